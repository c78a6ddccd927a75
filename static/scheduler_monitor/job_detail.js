/* The job page: show times in the viewer's time zone (UTC stays in the title). */
(function () {
  "use strict";
  var lang = document.documentElement.lang || undefined;
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  var units = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  function relativeText(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "second") {
        return relative ? relative.format(Math.round(seconds / units[i][1]), units[i][0]) : date.toLocaleString(lang);
      }
    }
    return "";
  }
  var nodes = document.querySelectorAll("time.sm-time");
  for (var i = 0; i < nodes.length; i++) {
    var node = nodes[i];
    var date = new Date(node.getAttribute("datetime"));
    if (isNaN(date.getTime())) { continue; }
    var utc = node.getAttribute("title");
    var exact = date.toLocaleString(lang);
    node.textContent = node.dataset.style === "relative" ? relativeText(date) : exact;
    node.title = node.dataset.style === "relative" ? exact + " (" + utc + ")" : utc;
  }
})();
