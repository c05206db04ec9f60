// Shows an upload's progress. Without this script the form posts as it is, and the
// server answers the same way: a redirect to the release page, or the page with the
// refusal.
(function () {
  "use strict";
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var bar = form.querySelector(".upload-progress");
      if (!window.XMLHttpRequest || !window.FormData || !bar) { return; }
      event.preventDefault();
      var request = new XMLHttpRequest();
      bar.hidden = false;
      request.upload.addEventListener("progress", function (progress) {
        if (progress.lengthComputable) { bar.value = Math.round(100 * progress.loaded / progress.total); }
      });
      request.addEventListener("load", function () {
        if (request.status < 400 && request.responseURL) {
          window.location.assign(request.responseURL);
        } else {
          document.open();
          document.write(request.responseText);
          document.close();
        }
      });
      request.addEventListener("error", function () { bar.hidden = true; form.submit(); });
      request.open("POST", form.action);
      request.send(new FormData(form));
    });
  });
})();
