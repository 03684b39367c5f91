// Live instance status on a client's page. The page is complete without
// this script; it only refreshes the phase badges and messages while
// containers are pulled, created or restarted.
(function () {
  "use strict";
  var root = document.querySelector("[data-status-url]");
  if (!root) { return; }
  var url = root.getAttribute("data-status-url");
  var delay = 1500;

  function update(list) {
    list.forEach(function (inst) {
      var row = document.querySelector('[data-instance="' + inst.id + '"]');
      if (!row) { return; }
      var badge = row.querySelector(".badge");
      if (badge && badge.textContent !== inst.phase) {
        badge.textContent = inst.phase;
        badge.className = "badge phase-" + inst.phase;
      }
      var msg = row.querySelector("[data-message]");
      if (msg) { msg.textContent = inst.message; }
    });
  }

  function poll() {
    if (document.hidden) { setTimeout(poll, delay); return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (list) { update(list); delay = 1500; })
      .catch(function () { delay = Math.min(delay * 2, 30000); })
      .then(function () { setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
}());
