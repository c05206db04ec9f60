// The editor's live preview: after a pause in typing, each language version is sent to
// /office/preview, which answers with the public page's own partial. Without this
// script the "Preview" button does the same by reloading the page.
(function () {
  "use strict";
  var form = document.querySelector("form.editor[data-preview-url]");
  if (!form || !window.fetch) { return; }
  var url = form.getAttribute("data-preview-url");
  var token = form.querySelector("input[name=csrf_token]").value;

  function refresh(fieldset) {
    var lang = fieldset.getAttribute("data-lang");
    var target = fieldset.querySelector("[data-preview]");
    var data = new FormData();
    data.append("csrf_token", token);
    data.append("lang", lang);
    ["title", "subtitle", "body"].forEach(function (name) {
      data.append(name, fieldset.querySelector("[name=" + name + "_" + lang + "]").value);
    });
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        // The server renders and sanitises the text; an error keeps the last preview.
        if (html !== null) { target.innerHTML = html; }
      })
      .catch(function () { /* offline: keep the last preview */ });
  }

  form.querySelectorAll("fieldset.version[data-lang]").forEach(function (fieldset) {
    var timer = null;
    fieldset.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { refresh(fieldset); }, 400);
    });
  });
})();
