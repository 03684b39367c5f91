// Live instance status on a client's page. The page is complete without
// this script; it only refreshes the phase badges and messages while
// containers are pulled, created or restarted, and the bytes done of
// running backups (a finished one says so; a reload shows its figures).
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
    updateBackups(list);
  }

  function updateBackups(list) {
    var active = {};
    list.forEach(function (inst) {
      (inst.backups || []).forEach(function (b) { active[b.id] = b; });
    });
    document.querySelectorAll("[data-backup]").forEach(function (row) {
      var badge = row.querySelector(".badge");
      var text = row.querySelector("[data-progress]");
      if (!badge || !text) { return; }
      var b = active[row.getAttribute("data-backup")];
      if (b) {
        badge.textContent = b.status;
        badge.className = "badge status-" + b.status;
        text.textContent = b.progress;
      } else if (badge.textContent === "queued" || badge.textContent === "running") {
        badge.textContent = "finished";
        badge.className = "badge";
        text.textContent = "reload for the result";
      }
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

// Live status of a client's instance requests in the portal: the badge
// and the reason follow requested → approved → provisioning → running.
(function () {
  "use strict";
  var root = document.querySelector("[data-requests-url]");
  if (!root) { return; }
  var url = root.getAttribute("data-requests-url");
  var delay = 2000;

  function update(list) {
    list.forEach(function (req) {
      var row = document.querySelector('[data-request="' + req.id + '"]');
      if (!row) { return; }
      var badge = row.querySelector(".badge");
      if (badge && badge.textContent !== req.status) {
        badge.textContent = req.status;
        badge.className = "badge request-" + req.status;
      }
      var why = row.querySelector("[data-why]");
      if (why) { why.textContent = req.why; }
    });
  }

  function poll() {
    if (document.hidden) { setTimeout(poll, delay); return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (list) { update(list); delay = 2000; })
      .catch(function () { delay = Math.min(delay * 2, 30000); })
      .then(function () { setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
}());
