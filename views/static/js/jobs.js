/* 我的任务: progress bars that follow the jobs without reloading (polls /jobs/status while a job is active),
   a notice when a job finishes, and a confirmation before cancelling. No inline script (CSP). */
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  document.querySelectorAll(".job-bar").forEach(function (bar) {
    bar.style.width = bar.getAttribute("data-percent") + "%";
  });
  var table = document.getElementById("jobs");
  if (!table) { return; }
  var ACTIVE = ["queued", "running"];
  var COLOURS = {queued: "default", running: "info", done: "success", failed: "danger", cancelled: "warning"};
  var rows = {};
  table.querySelectorAll("tr[data-job-id]").forEach(function (row) { rows[row.getAttribute("data-job-id")] = row; });

  function activeIds() {
    return Object.keys(rows).filter(function (id) { return ACTIVE.indexOf(rows[id].getAttribute("data-state")) >= 0; });
  }

  function notice(text, kind) {
    var box = document.createElement("div");
    box.className = "alert alert-" + kind;
    box.setAttribute("role", "status");
    box.textContent = text;
    document.getElementById("job-notices").appendChild(box);
  }

  function setText(row, selector, text) {
    var el = row.querySelector(selector);
    if (el) { el.textContent = text || ""; }
  }

  function update(job) {
    var row = rows[String(job.id)];
    if (!row) { return; }
    var before = row.getAttribute("data-state");
    row.setAttribute("data-state", job.state);
    var label = row.querySelector(".job-state .label");
    label.className = "label label-" + (COLOURS[job.state] || "default") + " job-state-" + job.state;
    label.textContent = job.state_label;
    var bar = row.querySelector(".job-bar");
    bar.style.width = job.percent + "%";
    bar.setAttribute("aria-valuenow", job.percent);
    bar.textContent = job.percent + "%";
    setText(row, ".job-progress", job.progress_text);
    setText(row, ".job-left", job.left);
    setText(row, ".job-finished", job.finished_at);
    if (ACTIVE.indexOf(job.state) < 0 && ACTIVE.indexOf(before) >= 0) {
      bar.classList.remove("active", "progress-bar-striped");
      var title = row.getAttribute("data-title");
      if (job.state === "done") {
        notice(table.getAttribute("data-done-text").replace("{title}", title), "success");
        var cell = row.querySelector(".job-result");
        cell.textContent = "";
        if (job.download_url) {
          var link = document.createElement("a");
          link.className = "btn btn-success btn-xs";
          link.href = job.download_url;
          link.textContent = table.getAttribute("data-download-text");
          cell.appendChild(link);
          cell.appendChild(document.createTextNode(" " + job.size));
        }
      } else if (job.state === "failed") {
        notice(table.getAttribute("data-failed-text").replace("{title}", title) + " " + (job.error || ""), "danger");
      }
      var actions = row.querySelector(".job-actions form:not([data-confirm])");
      row.querySelectorAll(".job-actions form[data-confirm]").forEach(function (f) { f.remove(); });
      if (job.state !== "done" && !actions) { window.setTimeout(function () { window.location.reload(); }, 1500); }
    }
  }

  function poll() {
    var ids = activeIds();
    if (!ids.length) { return; }
    var request = new XMLHttpRequest();
    request.open("GET", table.getAttribute("data-status-url") + "?ids=" + ids.join(","));
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      if (request.status === 200) {
        var data = JSON.parse(request.responseText);
        data.jobs.forEach(update);
        var badge = document.getElementById("jobs-badge");
        if (badge) { badge.textContent = data.badge || ""; }
      }
      window.setTimeout(poll, 2000);
    };
    request.onerror = function () { window.setTimeout(poll, 5000); };
    request.send();
  }
  window.setTimeout(poll, 1000);
}());
