// Polls the online real-name request and returns to the verification page once it is answered.
(function () {
  var el = document.getElementById("realname-status");
  if (!el) { return; }
  function poll() {
    fetch(el.getAttribute("data-status-url"), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.status !== "pending") { window.location = el.getAttribute("data-done-url"); }
        else { setTimeout(poll, 3000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 3000);
})();
