/* Statistics dashboard, while the figures are computed in the background: follow the job through
   /jobs/status and show the report when it is done. A job started by someone else is not listed there:
   the page then asks again every 10 seconds. No inline script (CSP). */
(function () {
  "use strict";
  var box = document.getElementById("statistics-computing");
  if (!box) { return; }
  var showUrl = box.getAttribute("data-show-url");
  var jobId = box.getAttribute("data-job-id");
  var bar = box.querySelector(".job-bar");

  function show() { window.location.assign(showUrl); }

  if (!jobId) { window.setTimeout(show, 10000); return; }

  function poll() {
    var request = new XMLHttpRequest();
    request.open("GET", box.getAttribute("data-status-url") + "?ids=" + jobId);
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      if (request.status !== 200) { window.setTimeout(poll, 5000); return; }
      var job = JSON.parse(request.responseText).jobs[0];
      if (!job || (job.state !== "queued" && job.state !== "running")) { show(); return; }
      bar.style.width = job.percent + "%";
      bar.setAttribute("aria-valuenow", job.percent);
      bar.textContent = job.percent + "%";
      window.setTimeout(poll, 1500);
    };
    request.onerror = function () { window.setTimeout(poll, 5000); };
    request.send();
  }
  window.setTimeout(poll, 1000);
}());
