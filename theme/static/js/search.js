// Search, on the search page only: the words typed are looked up in the
// index the build wrote beside the site (Pagefind's, plugins/site_search),
// in the reader's browser, which fetches only the parts of the index it needs.
//
// Everything that comes from the index is shown as text: titles, dates,
// content notes and snippets are set as textContent, and Pagefind's snippet
// keeps only its <mark> around the words found. The words typed stay in the
// address (?q=), so a search can be shared, reloaded or gone back to.

const form = document.querySelector("main form[role=search]");
const input = form.querySelector("input[type=search]");
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const more = document.getElementById("search-more");
const elsewhere = document.getElementById("search-elsewhere"); // the archives and tags, for when search cannot run
const PAGE = 10; // results shown at a time

let pagefind = null; // Pagefind's module, once asked for
let asked = 0; // the latest search: answers to older ones are dropped
let results = []; // the latest search's results, shown PAGE at a time

function load() {
  pagefind ??= import(form.dataset.index).then(async (module) => {
    await module.options({ excerptLength: 24 });
    module.init().catch(() => {}); // its loading starts now; a failure shows in the first search
    return module;
  });
  return pagefind;
}

function say(text) {
  status.textContent = text;
}

function cannotSearch(error) {
  say("Search could not load here.");
  elsewhere.hidden = false;
  console.error("Search could not load:", error);
}

// Pagefind's snippet is the essay's text with < and > escaped and the words
// found in <mark>: rebuilt as text nodes and <mark> elements, nothing else.
function snippet(excerpt) {
  const paragraph = document.createElement("p");
  let marked = false;
  for (const part of excerpt.split(/(<\/?mark>)/)) {
    if (part === "<mark>" || part === "</mark>") {
      marked = part === "<mark>";
    } else if (part) {
      const text = document.createTextNode(part.replace(/&lt;/g, "<").replace(/&gt;/g, ">"));
      if (marked) {
        const mark = document.createElement("mark");
        mark.append(text);
        paragraph.append(mark);
      } else {
        paragraph.append(text);
      }
    }
  }
  return paragraph;
}

// Only a link to a page of this site, whatever the index says.
function safeUrl(url) {
  try {
    const address = new URL(url, location.href);
    return address.origin === location.origin ? address.href : null;
  } catch {
    return null;
  }
}

// One result, as the site's lists show an essay: its title, date, content note, and the snippet.
function item(data) {
  const url = safeUrl(data.url);
  const article = document.createElement("article");
  const heading = document.createElement("h2");
  const link = document.createElement(url ? "a" : "span");
  link.textContent = data.meta.title || url || "";
  if (url) link.href = url;
  heading.append(link);
  article.append(heading);
  if (data.meta.date) {
    const meta = document.createElement("p");
    const time = document.createElement("time");
    meta.className = "meta";
    time.textContent = data.meta.date;
    if (data.meta.datetime) time.setAttribute("datetime", data.meta.datetime);
    meta.append(time);
    article.append(meta);
  }
  if (data.meta.content_note) {
    const note = document.createElement("p");
    const label = document.createElement("strong");
    note.className = "content-note";
    label.textContent = "Content note:";
    note.append(label, " " + data.meta.content_note);
    article.append(note);
  }
  article.append(snippet(data.excerpt || ""));
  const entry = document.createElement("li");
  entry.append(article);
  return entry;
}

function links() {
  return Array.from(list.querySelectorAll("h2 a"));
}

async function showMore(current, focus) {
  const shown = list.children.length;
  const next = await Promise.all(results.slice(shown, shown + PAGE).map((result) => result.data()));
  if (current !== asked) return;
  list.append(...next.map(item));
  more.hidden = list.children.length >= results.length;
  if (focus) links()[shown]?.focus();
}

function remember(words) {
  const address = new URL(location.href);
  if (words) address.searchParams.set("q", words);
  else address.searchParams.delete("q");
  history.replaceState(null, "", address);
}

function clear() {
  asked += 1;
  results = [];
  list.replaceChildren();
  list.hidden = more.hidden = true;
  say("");
}

async function search(words) {
  if (!words.trim()) {
    remember("");
    clear();
    return;
  }
  remember(words);
  const current = ++asked;
  let found;
  try {
    found = await (await load()).search(words);
  } catch (error) {
    // A site with nothing published yet has an index with no pages, which Pagefind calls an error.
    if (/no language indexes/i.test(error)) found = { results: [] };
    else if (current === asked) cannotSearch(error);
    if (!found) return;
  }
  if (current !== asked) return; // the reader typed on meanwhile
  results = found.results;
  list.replaceChildren();
  await showMore(current, false);
  if (current !== asked) return;
  list.hidden = results.length === 0;
  const count = results.length;
  say(count === 0 ? `Nothing found for “${words}”.` : `${count} ${count === 1 ? "result" : "results"} for “${words}”.`);
}

// The keyboard: from the box, ↓ goes to the first result; ↑ and ↓ move between
// results (Tab does too) and back up to the box; Enter opens a result, as any
// link; Escape clears the search and returns to the box.
form.closest("main").addEventListener("keydown", (event) => {
  if (event.key === "Escape" && (event.target === input || list.contains(event.target))) {
    event.preventDefault();
    input.value = "";
    remember("");
    clear();
    input.focus();
    return;
  }
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const all = links();
  const at = all.indexOf(event.target);
  if (event.target === input && event.key === "ArrowDown" && all.length) {
    event.preventDefault();
    all[0].focus();
  } else if (at >= 0) {
    event.preventDefault();
    const next = at + (event.key === "ArrowDown" ? 1 : -1);
    (next < 0 ? input : all[Math.min(next, all.length - 1)]).focus();
  }
});

input.addEventListener("input", () => search(input.value));
input.addEventListener("focus", () => load().catch(() => {}), { once: true }); // the index, before the first word
form.addEventListener("submit", (event) => {
  event.preventDefault(); // the results are already here; no need to load the page again
  search(input.value);
});
more.querySelector("button").addEventListener("click", () => showMore(asked, true));

// The script runs: the page's note about JavaScript gives way to the search itself.
say("");
elsewhere.hidden = true;
input.value = new URLSearchParams(location.search).get("q") || "";
input.focus();
if (input.value) search(input.value);
