// Image captcha (security/_captcha.html): "Another one" or a click on the image fetches a fresh challenge from
// GET /captcha/new and swaps the image and the hidden nonce in place, so nothing typed elsewhere is lost.
// The answer never reaches the page. Without JavaScript (or if the request fails) the link reloads the page.
(function () {
  Array.prototype.forEach.call(document.querySelectorAll(".captcha-row"), function (row) {
    var link = row.querySelector(".captcha-refresh"), image = row.querySelector(".captcha-image"),
        input = row.querySelector(".captcha-input"), form = row.closest("form"),
        nonce = form && form.querySelector("input[name=captcha_nonce]"), busy = false;
    if (!link || !image || !nonce || !window.fetch || row.getAttribute("data-captcha-ready")) { return; }
    row.setAttribute("data-captcha-ready", "1");

    function refresh(event) {
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      fetch(link.getAttribute("data-new-url"), {credentials: "same-origin", cache: "no-store",
                                                headers: {"Accept": "application/json"}})
        .then(function (resp) {
          if (!resp.ok) { throw new Error("captcha " + resp.status); }
          return resp.json();
        })
        .then(function (data) {
          nonce.value = data.nonce;
          image.src = data.image;
          if (input) { input.value = ""; input.focus(); }
          busy = false;
        })
        .catch(function () { window.location.href = link.href; });
    }
    link.addEventListener("click", refresh);
    image.addEventListener("click", refresh);
  });
})();
