/* Scheduler monitoring dashboard: local times, tabs, instant filter and sort, auto-refresh.
   The server renders everything; a refresh fetches the same partials and swaps them in. */
(function () {
  "use strict";
  var root = document.getElementById("sm-dashboard");
  if (!root) { return; }
  var lang = document.documentElement.lang || undefined;

  /* --- times: ISO UTC in the markup, shown in the viewer's time zone ------------------- */
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  function relativeText(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "second") {
        var value = Math.round(seconds / units[i][1]);
        return relative ? relative.format(value, units[i][0]) : date.toLocaleString(lang);
      }
    }
    return "";
  }
  function localiseTimes(scope) {
    var nodes = (scope || document).querySelectorAll("time.sm-time");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var date = new Date(node.getAttribute("datetime"));
      if (isNaN(date.getTime())) { continue; }
      var utc = node.dataset.utc || node.getAttribute("title");
      node.dataset.utc = utc;
      var exact = date.toLocaleString(lang);
      var style = node.dataset.style;
      if (style === "relative") {
        node.textContent = relativeText(date);
        node.title = exact + " (" + utc + ")";
      } else if (style === "hour") {
        node.textContent = date.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
        node.title = exact + " (" + utc + ")";
      } else if (style === "date") {
        node.textContent = utc.slice(5, 10);  /* day buckets are UTC days: label them so */
      } else if (style === "time") {
        node.textContent = date.toLocaleTimeString(lang);
        node.title = exact + " (" + utc + ")";
      } else {
        node.textContent = exact;
        node.title = utc;
      }
    }
  }

  /* --- tabs and heatmap range -------------------------------------------------------- */
  function setParam(name, value) {
    var url = new URL(window.location.href);
    if (value) { url.searchParams.set(name, value); } else { url.searchParams.delete(name); }
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  function showTab(name) {
    var tabs = root.querySelectorAll(".sm-tab");
    for (var i = 0; i < tabs.length; i++) {
      var active = tabs[i].dataset.tab === name;
      tabs[i].classList.toggle("sm-tab-active", active);
      tabs[i].setAttribute("aria-selected", active ? "true" : "false");
    }
    var panels = root.querySelectorAll(".sm-panel");
    for (var j = 0; j < panels.length; j++) { panels[j].hidden = panels[j].dataset.panel !== name; }
    showNewest();
  }
  root.addEventListener("click", function (event) {
    var tab = event.target.closest(".sm-tab");
    if (tab) {
      event.preventDefault();
      showTab(tab.dataset.tab);
      setParam("tab", tab.dataset.tab === "jobs" ? "" : tab.dataset.tab);
      return;
    }
    var range = event.target.closest(".sm-heat-range");
    if (range) {
      showRange(range.dataset.range);
      setParam("heat_range", range.dataset.range === "hour" ? "" : range.dataset.range);
      return;
    }
    var header = event.target.closest("#sm-job-table thead th[data-sort]");
    if (header) {
      var key = header.dataset.sort;
      sortState = { key: key, type: header.dataset.type, dir: sortState.key === key && sortState.dir === "asc" ? "desc" : "asc" };
      applySort();
    }
  });
  var activeRange = root.querySelector(".sm-heat-range-active");
  var heatRange = activeRange ? activeRange.dataset.range : "hour";
  /* One category with all its failing jobs (or all categories again): a new page. */
  var heatCategory = document.getElementById("sm-heat-category");
  if (heatCategory) {
    heatCategory.addEventListener("change", function () {
      var form = heatCategory.form;
      var kept = form.querySelector("input[name=heat_range]");
      if (kept) { kept.remove(); }
      if (heatRange !== "hour") {  /* stay on the range the viewer chose */
        var range = document.createElement("input");
        range.type = "hidden";
        range.name = "heat_range";
        range.value = heatRange;
        form.appendChild(range);
      }
      form.submit();
    });
  }
  function showRange(name) {
    heatRange = name;
    var maps = root.querySelectorAll(".sm-heatmap");
    for (var i = 0; i < maps.length; i++) { maps[i].hidden = maps[i].dataset.range !== name; }
    var buttons = root.querySelectorAll(".sm-heat-range");
    for (var j = 0; j < buttons.length; j++) { buttons[j].classList.toggle("sm-heat-range-active", buttons[j].dataset.range === name); }
    showNewest();
  }
  /* On a narrow screen the heatmap scrolls inside its box: start at the newest bucket. */
  function showNewest() {
    var wraps = root.querySelectorAll(".sm-heatmap:not([hidden]) .sm-table-wrap");
    for (var i = 0; i < wraps.length; i++) { wraps[i].scrollLeft = wraps[i].scrollWidth; }
  }

  /* --- instant search and category filter (same rule as the server's) ---------------- */
  var search = document.getElementById("sm-search");
  var category = document.getElementById("sm-category");
  var countLabel = document.getElementById("sm-visible-count");
  function tablePaged() {
    var wrap = document.getElementById("sm-jobs");
    return wrap && wrap.dataset.paged === "1";
  }
  function applyFilter() {
    if (tablePaged()) {  /* the server filtered every job; this page shows some of them */
      var wrap = document.getElementById("sm-jobs");
      countLabel.textContent = wrap.dataset.matching + " / " + wrap.dataset.total;
      return;
    }
    var query = search.value.trim().toLowerCase();
    var wanted = category.value;
    var rows = root.querySelectorAll("#sm-job-table tbody tr.sm-row");
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ok = (!wanted || row.dataset.category === wanted) && (!query || row.dataset.search.indexOf(query) !== -1);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    }
    var none = document.getElementById("sm-no-match");
    if (none) { none.hidden = shown > 0 || rows.length === 0; }
    countLabel.textContent = shown + " / " + rows.length;
  }
  var filterTimer = null;
  function onFilter() {
    setParam("q", search.value.trim());
    setParam("category", category.value);
    if (tablePaged()) {  /* too many jobs for the page: ask the server, which has them all */
      setParam("jobs_page", "");
      window.clearTimeout(filterTimer);
      filterTimer = window.setTimeout(refresh, 250);
      return;
    }
    applyFilter();
  }
  search.addEventListener("input", onFilter);
  category.addEventListener("change", onFilter);
  root.querySelector(".sm-filters").addEventListener("submit", function (event) { event.preventDefault(); onFilter(); });

  /* --- sortable columns -------------------------------------------------------------- */
  var sortState = { key: null, type: "text", dir: "asc" };
  function applySort() {
    if (!sortState.key) { return; }
    var table = document.getElementById("sm-job-table");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.querySelectorAll("tr.sm-row"));
    var attr = "sort" + sortState.key.charAt(0).toUpperCase() + sortState.key.slice(1);
    var sign = sortState.dir === "asc" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = a.dataset[attr], y = b.dataset[attr];
      if (sortState.type === "number") { return sign * (parseFloat(x) - parseFloat(y)); }
      return sign * x.localeCompare(y, lang);
    });
    var tail = document.getElementById("sm-no-match");
    rows.forEach(function (row) { body.insertBefore(row, tail); });
    var headers = table.querySelectorAll("thead th[data-sort]");
    for (var i = 0; i < headers.length; i++) {
      if (headers[i].dataset.sort === sortState.key) {
        headers[i].setAttribute("aria-sort", sortState.dir === "asc" ? "ascending" : "descending");
      } else {
        headers[i].removeAttribute("aria-sort");
      }
    }
  }

  /* --- refresh: fetch the server-rendered partials and swap each by id ---------------- */
  var select = document.getElementById("sm-refresh-interval");
  var errorLabel = document.getElementById("sm-refresh-error");
  var timer = null;
  var due = 0;
  var inFlight = false;
  root.dataset.refreshes = "0";
  function schedule() {
    window.clearTimeout(timer);
    var seconds = parseInt(select.value, 10) || 0;
    if (!seconds) { due = 0; return; }
    due = Date.now() + seconds * 1000;
    timer = window.setTimeout(function () {
      if (document.hidden) { return; }  /* resumed by visibilitychange */
      refresh();
    }, seconds * 1000);
  }
  var pendingRefresh = false;
  var lastEtag = null;
  var lastQuery = null;
  /* What this page shows, as digests: the server sends only the parts that differ. */
  function knownDigests() {
    var items = [];
    var parts = root.querySelectorAll("[data-fragment][data-digest]");
    for (var i = 0; i < parts.length; i++) { items.push(parts[i].id + "=" + parts[i].dataset.digest); }
    var rows = root.querySelectorAll("#sm-job-table tr.sm-row[data-digest]");
    for (var j = 0; j < rows.length; j++) { items.push("row:" + rows[j].dataset.jobId + "=" + rows[j].dataset.digest); }
    return items.join(" ");
  }
  function swapFragments(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var parts = doc.querySelectorAll("[data-fragment]");
    for (var i = 0; i < parts.length; i++) {
      var current = document.getElementById(parts[i].id);
      if (!current || parts[i].hasAttribute("data-unchanged")) { continue; }
      var fresh = document.importNode(parts[i], true);
      if (fresh.id === "sm-jobs") {
        /* Rows the page has already: keep its own element, in the server's order. */
        var kept = fresh.querySelectorAll("tr.sm-row[data-unchanged]");
        for (var k = 0; k < kept.length; k++) {
          var old = current.querySelector('tr.sm-row[data-job-id="' + CSS.escape(kept[k].dataset.jobId) + '"]');
          if (old) { kept[k].replaceWith(old); }
        }
      }
      if (fresh.classList.contains("sm-heatmap")) { fresh.hidden = fresh.dataset.range !== heatRange; }
      current.replaceWith(fresh);
    }
  }
  function refresh() {
    if (inFlight) { pendingRefresh = true; return; }
    inFlight = true;
    var params = new URLSearchParams(window.location.search);
    params.delete("tab");
    var query = params.toString();
    var url = root.dataset.fragmentsUrl + (query ? "?" + query : "");
    var headers = { "X-Requested-With": "fetch", "X-SM-Known": knownDigests() };
    /* The ETag stands for the fragments of one query (search, category, page). */
    if (lastEtag && lastQuery === query) { headers["If-None-Match"] = lastEtag; }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers })
      .then(function (response) {
        if (response.redirected || (!response.ok && response.status !== 304)) { throw new Error("HTTP " + response.status); }
        lastEtag = response.headers.get("ETag");
        lastQuery = query;
        root.dataset.lastStatus = String(response.status);
        return response.status === 304 ? null : response.text();
      })
      .then(function (html) {
        if (html !== null) { swapFragments(html); }
        errorLabel.hidden = true;
        afterRender();
        root.dataset.refreshes = String(parseInt(root.dataset.refreshes, 10) + 1);
      })
      .catch(function () { errorLabel.hidden = false; })
      .then(function () {
        inFlight = false;
        if (pendingRefresh) { pendingRefresh = false; refresh(); } else { schedule(); }
      });
  }
  function afterRender() {
    localiseTimes(root);
    applyFilter();
    applySort();
    showNewest();
  }
  select.addEventListener("change", function () {
    setParam("refresh", select.value === root.dataset.refresh ? "" : select.value);
    schedule();
  });
  document.getElementById("sm-refresh-now").addEventListener("click", refresh);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && due && Date.now() >= due) { refresh(); }
  });
  window.setInterval(function () { localiseTimes(root); }, 30000);

  afterRender();
  schedule();
})();
