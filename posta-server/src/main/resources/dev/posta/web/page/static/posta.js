// Posta's pages: new mail without reloading. Every page works without this script; with it, the
// signed-in pages follow GET /mail/events (server-sent events, one "folder" event per change:
// {"folder","messages","unseen","uidNext"}) and
//  - update the sidebar's counts of that folder;
//  - on the first page of a folder's list without a search, put the new messages into the list
//    (the list is fetched again and its table swapped; the search form is never touched, so
//    nothing half-typed there is lost);
//  - on any other page of the list, or a search, say "N new messages — show" instead, the link
//    opening the list's first page: what is shown there is not replaced under the reader.
(function () {
  "use strict";
  var sidebar = document.querySelector("nav.folders");
  if (!sidebar || !window.EventSource) return; // not signed in, or a browser without EventSource

  var list = document.querySelector("main.list[data-folder]");
  var refreshing = false;
  var pending = false;

  function folderItem(name) {
    var items = sidebar.querySelectorAll("li[data-folder]");
    for (var i = 0; i < items.length; i++) if (items[i].getAttribute("data-folder") === name) return items[i];
    return null;
  }

  function updateCounts(state) {
    var item = folderItem(state.folder);
    if (!item) return;
    var link = item.querySelector("a");
    var count = item.querySelector(".count");
    if (count) {
      count.textContent = formatted(state.messages);
      count.title = formatted(state.messages) + (state.messages === 1 ? " message" : " messages");
    }
    var unseen = item.querySelector(".unseen");
    if (state.unseen > 0) {
      if (!unseen) {
        unseen = document.createElement("span");
        unseen.className = "unseen";
        link.insertBefore(unseen, count);
      }
      unseen.textContent = formatted(state.unseen);
      unseen.title = formatted(state.unseen) + " unread";
    } else if (unseen) {
      unseen.remove();
    }
  }

  // As the server writes counts in the sidebar (Views.FolderLink.shown): 100,000.
  function formatted(n) {
    return n.toLocaleString("en-US");
  }

  function tell(count) {
    var news = list.querySelector("p.news");
    if (!news) return;
    news.querySelector("a").textContent = count + (count === 1 ? " new message" : " new messages") + " \u2014 show";
    news.hidden = false;
  }

  // The list again from the server, its table (or "No messages."), heading and pager swapped in.
  function refresh() {
    if (refreshing) {
      pending = true;
      return;
    }
    refreshing = true;
    var before = Number(list.getAttribute("data-uid-next"));
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main.list");
        if (!fresh) return;
        ["table.messages, p.empty", "h1", "nav.pager"].forEach(function (selector) {
          var old = list.querySelector(selector);
          var now = fresh.querySelector(selector);
          if (old && now) old.replaceWith(document.importNode(now, true));
        });
        list.setAttribute("data-uid-next", fresh.getAttribute("data-uid-next"));
        list.querySelectorAll("tbody tr[data-uid]").forEach(function (row) {
          if (Number(row.getAttribute("data-uid")) >= before) row.classList.add("arrived");
        });
      })
      .catch(function () {
        tell(1); // the list could not be fetched: at least say there is news, with the link
      })
      .finally(function () {
        refreshing = false;
        if (pending) {
          pending = false;
          refresh();
        }
      });
  }

  var events = new EventSource("/mail/events");
  events.addEventListener("folder", function (e) {
    var state;
    try {
      state = JSON.parse(e.data);
    } catch (x) {
      return;
    }
    updateCounts(state);
    if (!list || list.getAttribute("data-folder") !== state.folder) return;
    var shown = Number(list.getAttribute("data-uid-next"));
    if (!(state.uidNext > shown)) return;
    if (list.getAttribute("data-refresh") === "yes") refresh();
    else tell(state.uidNext - shown);
  });
})();

// The server's page (/admin, ServerPages): its figures and charts kept live. Every data-refresh
// seconds while the page is visible (document.visibilityState), the page is fetched again and
// its figures, readiness and the charts' tables are taken from it; a chart's image gets the new
// URL only when its figures changed (the URL carries their version), so an unchanged chart is not
// fetched again. Hidden, nothing is fetched; shown again, it refreshes at once.
(function () {
  "use strict";
  var page = document.querySelector("main.server[data-refresh]");
  if (!page || !window.fetch || !window.DOMParser) return;
  var period = Math.max(1, Number(page.getAttribute("data-refresh")) || 15) * 1000;
  var timer = null;
  var busy = false;

  function swap(fresh, selector) {
    var old = page.querySelector(selector);
    var now = fresh.querySelector(selector);
    if (old && now) old.replaceWith(document.importNode(now, true));
  }

  function refresh() {
    if (busy) return;
    busy = true;
    fetch(window.location.pathname + window.location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main.server");
        if (!fresh) return;
        swap(fresh, "section.health");
        swap(fresh, "section.listeners");
        page.querySelectorAll("figure.chart[data-chart]").forEach(function (figure) {
          var name = figure.getAttribute("data-chart");
          var other = fresh.querySelector('figure.chart[data-chart="' + name + '"]');
          if (!other) return;
          var img = figure.querySelector("img");
          var src = other.querySelector("img").getAttribute("src");
          if (img.getAttribute("src") !== src) {
            img.setAttribute("src", src);
            img.setAttribute("alt", other.querySelector("img").getAttribute("alt"));
          }
          var table = figure.querySelector("details table");
          var now = other.querySelector("details table");
          if (table && now) table.replaceWith(document.importNode(now, true)); // the details keep their open state
        });
      })
      .catch(function () {
        // the server is away or restarting: keep what is shown, try again at the next turn
      })
      .finally(function () {
        busy = false;
      });
  }

  function follow() {
    if (document.visibilityState === "visible") {
      if (timer === null) timer = window.setInterval(refresh, period);
    } else if (timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && timer === null) refresh();
    follow();
  });
  follow();
})();
