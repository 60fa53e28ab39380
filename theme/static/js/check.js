// The bot check, in the reader's browser. kizuna.js loads this only when a
// reader starts to write. It asks the comment server (never anyone else) for a
// challenge, finds its number with the browser's own SHA-256 (ALTCHA's scheme;
// kizuna/comments/bot_check.py checks it) while the reader is still writing,
// and adds the answer to the comment the widget sends. Nothing to click, no
// focus moved, nothing announced: the reader does not notice it.
// It also adds a field to each comment form that no person sees, reaches or
// hears; bots that fill in every field fill it, and are refused.
(function () {
  var thread = document.getElementById("isso-thread");
  if (!thread || window.kizunaCheck) return;
  window.kizunaCheck = { solve: solve };  // loaded once; bench/bots.py times the solving
  // Without its last slash, whether the address has a path (/isso/) or not (http://127.0.0.1:8080/).
  var endpoint = new URL(thread.dataset.isso, location.href).href.replace(/\/+$/, "");
  var TRAP = "subject";  // bot_check.TRAP
  var subtle = window.crypto && crypto.subtle;
  // Digests asked for at once: about as fast as more, and the reader's typing is answered between batches.
  var BATCH = subtle ? 1000 : 250;
  var solution = null;  // a Promise of {payload, until} (null: failed), or null when none is on the way
  var box = null;  // the comment form whose Send was pressed last

  // SHA-256 in plain JavaScript, for pages without crypto.subtle (it exists
  // only on HTTPS and loopback): slower, so done in slices between events.
  var K = [];
  (function () {
    for (var n = 2, found = 0; found < 64; n++) {
      for (var d = 2; d * d <= n && n % d; d++);
      if (d * d > n) K[found++] = (Math.pow(n, 1 / 3) % 1) * 4294967296 | 0;
    }
  })();
  function sha256(bytes) {
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var length = bytes.length, blocks = ((length + 8) >> 6) + 1, w = new Array(64), words = new Array(blocks * 16);
    for (var i = 0; i < words.length; i++) words[i] = 0;
    for (i = 0; i < length; i++) words[i >> 2] |= bytes[i] << (24 - (i % 4) * 8);
    words[length >> 2] |= 0x80 << (24 - (length % 4) * 8);
    words[words.length - 1] = length * 8;
    function rotate(x, n) { return (x >>> n) | (x << (32 - n)); }
    for (var b = 0; b < words.length; b += 16) {
      var a = h.slice();
      for (i = 0; i < 64; i++) {
        w[i] = i < 16 ? words[b + i] : (rotate(w[i - 2], 17) ^ rotate(w[i - 2], 19) ^ (w[i - 2] >>> 10)) + w[i - 7] +
          (rotate(w[i - 15], 7) ^ rotate(w[i - 15], 18) ^ (w[i - 15] >>> 3)) + w[i - 16] | 0;
        var t1 = a[7] + (rotate(a[4], 6) ^ rotate(a[4], 11) ^ rotate(a[4], 25)) + ((a[4] & a[5]) ^ (~a[4] & a[6])) +
          K[i] + w[i] | 0;
        var t2 = (rotate(a[0], 2) ^ rotate(a[0], 13) ^ rotate(a[0], 22)) + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2])) | 0;
        a.unshift(t1 + t2 | 0);
        a[4] = a[4] + t1 | 0;
        a.pop();
      }
      for (i = 0; i < 8; i++) h[i] = h[i] + a[i] | 0;
    }
    var out = new Uint8Array(32);
    for (i = 0; i < 32; i++) out[i] = h[i >> 2] >>> (24 - (i % 4) * 8);
    return out.buffer;
  }
  function digest(bytes) {
    return subtle ? subtle.digest("SHA-256", bytes) : sha256(bytes);
  }

  function solve(challenge) {
    var encoder = new TextEncoder();
    var target = new Uint8Array(challenge.challenge.match(/../g).map(function (pair) { return parseInt(pair, 16); }));
    function from(start) {
      if (start > challenge.maxnumber) return Promise.reject(new Error("no number solves it"));
      var end = Math.min(start + BATCH, challenge.maxnumber + 1), digests = [];
      for (var n = start; n < end; n++) digests.push(digest(encoder.encode(challenge.salt + n)));
      return Promise.all(digests).then(function (hashes) {
        for (var i = 0; i < hashes.length; i++) {
          var hash = new Uint8Array(hashes[i]), j = 0;
          while (j < 32 && hash[j] === target[j]) j++;
          if (j === 32) return start + i;
        }
        // crypto.subtle answers in tasks of its own; plain JavaScript must let events in.
        return subtle ? from(end) : new Promise(function (go) { setTimeout(go, 0); }).then(function () {
          return from(end);
        });
      });
    }
    return from(0);
  }

  function fresh() {
    var asked = Date.now();
    solution = fetch(endpoint + "/kizuna/challenge", { credentials: "omit", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("no challenge");
        return response.json();
      })
      .then(function (challenge) {
        return solve(challenge).then(function (number) {
          return {
            payload: btoa(JSON.stringify({ algorithm: challenge.algorithm, challenge: challenge.challenge,
              number: number, salt: challenge.salt, signature: challenge.signature })),
            // Used up a little before the server's clock says so: a new one is made at sending.
            until: asked + (challenge.lifetime - 30) * 1000
          };
        });
      })
      .catch(function () { return null; });  // sent without: the server says, in words, to try again
  }

  // A solution still fresh (made anew if need be), for one comment only.
  function take() {
    if (!solution) fresh();
    var mine = solution;
    solution = null;
    return mine.then(function (solved) {
      if (solved && Date.now() < solved.until) return solved;
      fresh();
      mine = solution;
      solution = null;
      return mine;
    });
  }

  function trap(postbox) {
    if (!postbox || postbox.querySelector("input[name=" + TRAP + "]")) return;
    var holder = document.createElement("p"), label = document.createElement("label");
    var input = document.createElement("input");
    holder.setAttribute("aria-hidden", "true");
    holder.inert = true;
    holder.className = "kizuna-trap";
    // Off screen (set through the CSSOM, which the site's CSP allows), not display:none.
    holder.style.position = "absolute";
    holder.style.left = "-10000px";
    holder.style.width = holder.style.height = "1px";
    holder.style.overflow = "hidden";
    input.type = "text";
    input.name = TRAP;
    input.id = "kizuna-" + TRAP + "-" + Math.random().toString(36).slice(2);
    input.tabIndex = -1;
    input.autocomplete = "off";
    label.htmlFor = input.id;
    label.textContent = "Subject (leave empty)";
    holder.append(label, input);
    var section = postbox.querySelector(".isso-auth-section") || postbox;
    section.insertBefore(holder, section.firstChild);
  }

  Array.prototype.forEach.call(thread.querySelectorAll(".isso-postbox"), trap);
  thread.addEventListener("focusin", function (event) {
    trap(event.target.closest && event.target.closest(".isso-postbox"));
  });
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.type === "submit" && target.closest) box = target.closest(".isso-postbox") || box;
  }, true);

  // kizuna.js notes each request's method and address as it is opened (xhr.kizuna), also those opened
  // before this script ran, whose sending kizuna.js held until now.
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    var xhr = this, opened = xhr.kizuna;
    if (!opened || opened.method !== "POST" || opened.url.split("?")[0] !== endpoint + "/new" ||
        typeof body !== "string") return send.apply(xhr, arguments);
    var field = (box || thread).querySelector("input[name=" + TRAP + "]");
    take().then(function (solved) {
      var comment = null;
      try { comment = JSON.parse(body); } catch (e) { /* sent as it is */ }
      if (comment && typeof comment === "object") {
        if (solved) comment.altcha = solved.payload;
        comment[TRAP] = field ? field.value : "";
        body = JSON.stringify(comment);
      }
      xhr.addEventListener("loadend", function () { if (!solution) fresh(); });  // ready for the next comment
      send.call(xhr, body);
    });
  };

  fresh();
})();
