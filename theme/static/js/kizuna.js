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

// Comments. Isso's widget (embed.min.js, 20 KB compressed) loads only when the
// reader comes near the comments, or asks for it, and then takes the place of
// the comments baked into the page at build time.
(function () {
  var thread = document.getElementById("isso-thread");
  if (!thread) return;
  var section = document.getElementById("comments");
  var button = section.querySelector(".load-comments button");
  var endpoint = thread.dataset.isso.replace(/\/+$/, "");
  var loaded = false;

  // Swap the baked comments for the widget only once it has drawn itself, so
  // a widget that fails to load (Isso down, a blocker) leaves them readable;
  // the section keeps its height meanwhile, so nothing on the page moves up.
  function takeOver() {
    section.style.minHeight = section.offsetHeight + "px";
    var baked = section.querySelector("[data-baked]");
    if (baked) baked.remove();
    if (button) button.parentNode.remove();
    document.dispatchEvent(new Event("kizuna:thread-drawn"));
  }

  function load() {
    if (loaded) return;
    loaded = true;
    if (button) button.disabled = true;
    var style = document.createElement("link");
    style.rel = "stylesheet";
    style.href = thread.dataset.css;
    document.head.appendChild(style);
    // Isso finds a comment's parent by its id (isso-N): the baked copies must
    // not answer to it while both are on the page.
    Array.prototype.forEach.call(section.querySelectorAll("[data-baked] [id^='isso-']"), function (item) {
      item.id = item.id.replace("isso-", "baked-");
    });
    // Isso writes its heading once the comments are fetched and drawn.
    new MutationObserver(function (changes, observer) {
      var heading = thread.querySelector(".isso-thread-heading");
      if (heading && heading.textContent) {
        observer.disconnect();
        takeOver();
      }
    }).observe(thread, { childList: true, subtree: true, characterData: true });
    var script = document.createElement("script");
    script.src = endpoint + "/js/embed.min.js";
    script.setAttribute("data-isso", endpoint);
    // The widget's options (ISSO_OPTIONS in pelicanconf.py), which the theme
    // writes on the thread: Isso reads them from its script tag.
    Array.prototype.forEach.call(thread.attributes, function (attribute) {
      if (/^data-isso-/.test(attribute.name)) script.setAttribute(attribute.name, attribute.value);
    });
    script.onerror = function () {
      if (button) button.parentNode.textContent = "Writing a comment is not possible just now; please try again later.";
    };
    script.async = true;
    // thread.js first: it listens to the widget's requests from the first one on.
    var ours = document.createElement("script");
    ours.src = thread.dataset.threadJs;
    ours.onload = ours.onerror = function () { document.body.appendChild(script); };
    document.body.appendChild(ours);
  }

  if ("IntersectionObserver" in window) {
    var watcher = new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) {
        watcher.disconnect();
        load();
      }
    }, { rootMargin: "600px 0px" });
    watcher.observe(section);
  }
  if (button) {
    button.hidden = false;
    button.addEventListener("click", load);
  }
  if (/^#(comments|isso-)/.test(location.hash)) load();

  // The bot check, check.js, loads when a reader starts to write; what the widget sends meanwhile waits.
  thread.addEventListener("focusin", function check(event) {
    if (!event.target.closest(".isso-postbox")) return;
    thread.removeEventListener("focusin", check);
    var send = XMLHttpRequest.prototype.send, held = [], script = document.createElement("script");
    XMLHttpRequest.prototype.send = function () {
      held ? held.push([this, arguments]) : send.apply(this, arguments);
    };
    script.onload = script.onerror = function () {
      var waited = held;
      held = null;
      waited.forEach(function (call) { XMLHttpRequest.prototype.send.apply(call[0], call[1]); });
    };
    script.src = thread.dataset.check;
    document.body.appendChild(script);
  });
})();

// Comment counts, on lists of essays and on an essay's own page: the baked
// number, refreshed with one request to Isso (instead of Isso's 51 KB
// count.min.js), so approving or deleting shows before the next publish.
(function () {
  var source = document.querySelector("[data-isso-counts]");
  if (!source || !window.fetch) return;
  var shown = document.querySelectorAll("[data-comments]");
  if (!shown.length) return;
  var ids = Array.prototype.map.call(shown, function (element) { return element.dataset.comments; });
  fetch(source.dataset.issoCounts.replace(/\/+$/, "") + "/count", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(ids)
  }).then(function (response) {
    return response.ok ? response.json() : null;
  }).then(function (counts) {
    if (!counts) return;
    counts.forEach(function (count, i) {
      var element = shown[i];
      // The section's heading says "Thoughts (4)"; links say "4 thoughts".
      element.textContent = "commentsShort" in element.dataset ? (count ? "(" + count + ")" : "")
        : count + (count === 1 ? " thought" : " thoughts");
    });
  }).catch(function () { /* the baked numbers stay */ });
})();
