// "Get SMS code" buttons count down the resend limit after a code was sent (data-wait = seconds).
(function () {
  var buttons = document.querySelectorAll(".sms-button[data-wait]");
  Array.prototype.forEach.call(buttons, function (button) {
    var left = parseInt(button.getAttribute("data-wait"), 10) || 0, label = button.textContent;
    if (left <= 0) { return; }
    button.disabled = true;
    var timer = setInterval(function () {
      left -= 1;
      button.textContent = label + " (" + left + ")";
      if (left <= 0) { clearInterval(timer); button.disabled = false; button.textContent = label; }
    }, 1000);
    button.textContent = label + " (" + left + ")";
  });
})();
