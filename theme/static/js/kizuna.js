// The light/dark toggle. The page works without it: the CSS follows the
// reader's system setting, and this script only adds a remembered choice.
(function () {
  var root = document.documentElement;
  var button = document.getElementById("theme-toggle");
  if (!button) return;
  var systemDark = window.matchMedia("(prefers-color-scheme: dark)");

  function current() {
    return root.dataset.theme || (systemDark.matches ? "dark" : "light");
  }
  function show() {
    var dark = current() === "dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
  }
  button.addEventListener("click", function () {
    var next = current() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    try { localStorage.setItem("kizuna-theme", next); } catch (e) { /* private mode: choice lasts this page */ }
    show();
  });
  systemDark.addEventListener("change", show);
  show();
  button.hidden = false;
})();
