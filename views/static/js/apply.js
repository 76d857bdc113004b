// Employer keyword autocomplete: fills the datalist from /apply/enterprises as the person types.
// A value already offered (a chosen suggestion) is not searched again; late answers are ignored.
(function () {
  var input = document.querySelector("input[list=enterprise-options]");
  if (!input) { return; }
  var list = document.getElementById("enterprise-options"), timer = null, asked = 0;
  function offered(value) {
    return Array.prototype.some.call(list.options, function (o) { return o.value === value; });
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2 || offered(q)) { return; }
    timer = setTimeout(function () {
      var ticket = ++asked;
      fetch(input.getAttribute("data-source") + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (rows) {
          if (ticket !== asked) { return; }
          list.innerHTML = "";
          rows.forEach(function (row) {
            var option = document.createElement("option");
            option.value = row.label;
            option.textContent = row.province;
            list.appendChild(option);
          });
        });
    }, 250);
  });
})();
