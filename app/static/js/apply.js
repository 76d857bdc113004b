// Employer keyword autocomplete: fills the datalist from /apply/enterprises as the person types.
(function () {
  var input = document.querySelector("input[list=enterprise-options]");
  if (!input) { return; }
  var list = document.getElementById("enterprise-options"), timer = null, last = "";
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      if (q.length < 2 || q === last) { return; }
      last = q;
      fetch(input.getAttribute("data-source") + "?q=" + encodeURIComponent(q), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (rows) {
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
