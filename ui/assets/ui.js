// Ferry's web UI: live updates over server-sent events and client-side
// filtering of the app list. Everything else is plain HTML forms.
(function () {
  "use strict";
  function filterRows() {
    var form = document.getElementById("filters");
    var body = document.getElementById("app-rows");
    if (!form || !body) return;
    var q = form.q.value.trim().toLowerCase(), result = form.result.value;
    var pinned = form.pinned.checked, drift = form.drift.checked, shown = 0;
    Array.prototype.forEach.call(body.rows, function (tr) {
      var ok = (!q || (tr.dataset.name + " " + tr.dataset.repo).toLowerCase().indexOf(q) >= 0) &&
        (!result || tr.dataset.result.toLowerCase() === result.toLowerCase()) &&
        (!pinned || tr.dataset.pinned === "true") && (!drift || tr.dataset.drift === "true");
      tr.hidden = !ok;
      if (ok) shown++;
    });
    var count = document.getElementById("count");
    if (count) count.textContent = shown;
  }
  function announce(text) {
    var live = document.getElementById("live");
    if (live) live.textContent = text;
  }
  function onApps(html, id) {
    var body = document.getElementById("app-rows");
    if (!body || (id && body.dataset.version === id)) return; // already shown
    if (id) body.dataset.version = id;
    var only = body.dataset.only;
    if (only) {
      var t = document.createElement("tbody");
      t.innerHTML = html;
      var row = Array.prototype.find.call(t.rows, function (tr) { return tr.dataset.name === only; });
      if (row && body.innerHTML !== row.outerHTML) {
        body.innerHTML = row.outerHTML;
        announce("App " + only + " updated: " + row.dataset.result);
      }
      return;
    }
    body.innerHTML = html;
    filterRows();
    announce("Apps updated " + new Date().toLocaleTimeString());
  }
  function onImages(html, id) {
    var el = document.getElementById("policies");
    if (!el || (id && el.dataset.version === id)) return;
    if (id) el.dataset.version = id;
    {
      el.innerHTML = html;
      announce("Images updated " + new Date().toLocaleTimeString());
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("filters");
    if (form) {
      form.addEventListener("input", filterRows);
      form.addEventListener("change", filterRows);
    }
    if (!document.querySelector("[data-live]") || !window.EventSource) return;
    var es = new EventSource("/api/v1/events");
    es.addEventListener("apps", function (e) { onApps(e.data, e.lastEventId); });
    es.addEventListener("images", function (e) { onImages(e.data, e.lastEventId); });
    es.addEventListener("open", function () { document.body.dataset.live = "connected"; });
  });
})();
