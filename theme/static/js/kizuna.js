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
    document.body.appendChild(script);
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
})();

// What became of a reader's comment. Isso's widget says nothing when the
// comment server refuses a comment (the words stay in the box, that is all),
// and a comment that waits for the writer is gone at the next visit. This
// listens to the widget's own requests: a refusal is said beside the form, in
// the server's words (what happened, what to do), and announced to screen
// readers; a waiting comment is remembered in this browser, with the token the
// server gave for it, and shown again, marked as waiting, until the writer has
// read it (kizuna/comments/senders.py answers whether it still waits).
(function () {
  var thread = document.getElementById("isso-thread");
  if (!thread || !window.JSON || !window.fetch || !Element.prototype.closest) return;
  var endpoint = new URL(thread.dataset.isso.replace(/\/+$/, ""), location.href).href;
  var threadId = thread.dataset.issoId;
  var STORED = "kizuna-waiting";
  var WAITING = "Waiting for the writer to read it. Until then only you can see it, in this browser.";
  var acting = null;  // the form (or comment, for an edit) whose button was pressed last

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest && (target.type === "submit" || target.closest("a.isso-edit"))) {
      acting = target.closest(".isso-postbox") || target.closest(".isso-comment");
    }
  }, true);

  function say(where, words) {
    if (!where) return;
    var note = where.querySelector(":scope > .kizuna-refusal, :scope .isso-post-action ~ .kizuna-refusal");
    if (!note) {
      note = document.createElement("p");
      note.className = "kizuna-refusal";
      note.setAttribute("role", "alert");
      var actions = where.querySelector(".isso-post-action");
      if (actions) actions.parentNode.insertBefore(note, actions.nextSibling);
      else where.appendChild(note);
    }
    note.textContent = words;
    note.hidden = !words;
  }

  function refusal(xhr) {
    if (xhr.status === 0) {
      return "Your comment was not sent: the comment server did not answer. Your words are still in the box; " +
        "please try again in a moment.";
    }
    var words = "";
    try {
      words = JSON.parse(xhr.responseText).message || "";
    } catch (notJson) {
      var paragraph = new DOMParser().parseFromString(xhr.responseText || "", "text/html").querySelector("p");
      words = paragraph ? paragraph.textContent : "";
    }
    words = words.replace(/^\d{3} [A-Za-z ]+: /, "").trim();
    if (!words || words.length > 500) {
      words = xhr.status >= 500 ? "Something went wrong on the comment server. Your words are still in the box; " +
        "please try again later." : "The comment server refused it.";
    }
    return "Your comment was not sent: " + words.charAt(0).toLowerCase() + words.slice(1);
  }

  function stored() {
    try { return JSON.parse(localStorage.getItem(STORED)) || []; } catch (e) { return []; }
  }
  function store(items) {
    try { localStorage.setItem(STORED, JSON.stringify(items)); } catch (e) { /* private mode: this visit only */ }
  }
  function plain(escaped) {  // Isso sends names HTML-escaped
    return new DOMParser().parseFromString(escaped || "", "text/html").documentElement.textContent;
  }

  function answered(xhr, path, where) {
    if (xhr.status >= 200 && xhr.status < 300) {
      say(where, "");
      var comment = null;
      try { comment = JSON.parse(xhr.responseText); } catch (e) { return; }
      if (path === "/new" && xhr.status === 202 && comment && comment.waiting) {
        store(stored().filter(function (item) { return item.id !== comment.id; }).concat([{
          id: comment.id, token: comment.waiting, thread: threadId, parent: comment.parent,
          author: comment.author, text: comment.text
        }]));
      }
      return;
    }
    say(where, refusal(xhr));
  }

  var open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.kizuna = { method: String(method).toUpperCase(), url: new URL(url, location.href).href };
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    var xhr = this, request = xhr.kizuna, where = acting;
    if (request && request.method !== "GET" && request.url.indexOf(endpoint + "/") === 0) {
      var path = request.url.slice(endpoint.length).split("?")[0];
      if (path === "/new" || (request.method === "PUT" && /^\/id\/\d+$/.test(path))) {
        xhr.addEventListener("loadend", function () { answered(xhr, path, where); });
      }
    }
    return send.apply(this, arguments);
  };

  function draw(item) {
    var parent = item.parent && document.getElementById("isso-" + item.parent);
    var where = parent ? parent.querySelector(".isso-follow-up") : document.getElementById("isso-root");
    if (!where || document.getElementById("isso-" + item.id)) return;
    var comment = document.createElement("div");
    comment.className = "isso-comment kizuna-waiting";
    comment.id = "waiting-" + item.id;
    var header = document.createElement("div");
    header.className = "isso-comment-header";
    var author = document.createElement("span");
    author.className = "isso-author";
    author.textContent = plain(item.author) || "Anonymous";
    header.appendChild(author);
    var text = document.createElement("div");
    text.className = "isso-text";
    text.innerHTML = item.text;  // the server's own rendering of the reader's words, sanitised there
    var note = document.createElement("p");
    note.className = "isso-note";
    note.textContent = WAITING;
    comment.append(header, text, note);
    where.insertBefore(comment, where.firstChild);
  }

  document.addEventListener("kizuna:thread-drawn", function () {
    var mine = stored().filter(function (item) { return item.thread === threadId; });
    if (!mine.length) return;
    fetch(endpoint + "/kizuna/waiting", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(mine.map(function (item) { return { id: item.id, token: item.token }; }))
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (states) {
      if (!states) return;
      var waiting = {};
      states.forEach(function (state) { if (state.state === "waiting") waiting[state.id] = true; });
      // Shown or gone: nothing more to remember.
      store(stored().filter(function (item) { return item.thread !== threadId || waiting[item.id]; }));
      mine.forEach(function (item) { if (waiting[item.id]) draw(item); });
    }).catch(function () { /* the comment server is away: try again next visit */ });
  });
})();

// Comment counts on lists of essays: the baked number, refreshed with one
// request to Isso (instead of Isso's 51 KB count.min.js).
(function () {
  var list = document.querySelector("[data-isso-counts]");
  if (!list || !window.fetch) return;
  var links = list.querySelectorAll("a[data-comments]");
  if (!links.length) return;
  var ids = Array.prototype.map.call(links, function (link) { return link.dataset.comments; });
  fetch(list.dataset.issoCounts.replace(/\/+$/, "") + "/count", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(ids)
  }).then(function (response) {
    return response.ok ? response.json() : null;
  }).then(function (counts) {
    if (!counts) return;
    counts.forEach(function (count, i) {
      links[i].textContent = count + (count === 1 ? " thought" : " thoughts");
    });
  }).catch(function () { /* the baked numbers stay */ });
})();
