// The comment thread, beside Isso's widget: loaded with it (kizuna.js loads
// this first, then the widget), never with the page.
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
  // Absolute and without a trailing slash, as the widget's request addresses begin.
  var endpoint = new URL(thread.dataset.isso, location.href).href.replace(/\/+$/, "");
  var threadId = thread.dataset.issoId;
  var STORED = "kizuna-waiting";
  // The words Isso itself shows under a comment just sent (the theme writes them from ISSO_OPTIONS).
  var WAITING = thread.dataset.waiting || "Waiting for the writer to read it.";
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

  // The writer's own comments (made with invoke comments.reply): the comment
  // server marks them in the thread it sends, and only there.
  var writers = {};
  function collect(comments) {
    (comments || []).forEach(function (comment) {
      if (comment.writer === true) writers[comment.id] = true;
      collect(comment.replies);
    });
  }
  function markWriters() {
    Object.keys(writers).forEach(function (id) {
      var comment = document.getElementById("isso-" + id);
      var author = comment && comment.querySelector(":scope > .isso-text-wrapper > .isso-comment-header > .isso-author");
      if (!author || comment.classList.contains("kizuna-by-writer")) return;
      comment.classList.add("kizuna-by-writer");
      var mark = document.createElement("span");
      mark.className = "writer";
      mark.textContent = "the writer";
      author.insertAdjacentElement("afterend", mark);
    });
  }
  new MutationObserver(markWriters).observe(thread, { childList: true, subtree: true });

  var open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.kizuna = { method: String(method).toUpperCase(), url: new URL(url, location.href).href };
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    var xhr = this, request = xhr.kizuna, where = acting;
    if (request && request.method === "GET" && request.url.indexOf(endpoint + "/?") === 0) {
      xhr.addEventListener("loadend", function () {
        try { collect(JSON.parse(xhr.responseText).replies); } catch (e) { return; }
        markWriters();
      });
    }
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
