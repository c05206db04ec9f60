// The editor's live preview: after a pause in typing, each language version is sent to
// /office/preview, which answers with the public page's own partial. Without this
// script the "Preview" button does the same by reloading the page.
//
// A paste that leaves a text starting with a release's header block (보도자료, 보도일시,
// 담당자, 제목…) is read by /office/header, as the "Read the header" button does without
// this script: its title, subtitle and contact fill the fields, the text after the
// header replaces the pasted one, and the notice says what was filled for the officer to
// check, with the embargo time and department the header gives.
(function () {
  "use strict";
  var form = document.querySelector("form.editor[data-preview-url]");
  if (!form || !window.fetch) { return; }
  var url = form.getAttribute("data-preview-url");
  var headerUrl = form.getAttribute("data-header-url");
  var notice = form.querySelector("[data-header-read]");
  var token = form.querySelector("input[name=csrf_token]").value;
  // What a header block starts with; the server decides whether it is one.
  var HEADER_START = /^\s*(보\s*도\s*(참\s*고\s*)?자\s*료|배\s*포\s*일|보\s*도\s*일|담\s*당|제\s*목|부\s*제)/;

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

  function labelOf(id) {
    var label = form.querySelector("label[for='" + id + "']");
    return label ? label.textContent.trim() : id;
  }

  function show(name, value) {
    var shown = notice.querySelector("[data-header-value=" + name + "]");
    var row = notice.querySelector("[data-header-row=" + name + "]");
    if (shown) { shown.textContent = value; }
    if (row) { row.hidden = !value; }
  }

  function fillFromHeader(fieldset, textarea) {
    var lang = fieldset.getAttribute("data-lang");
    var language = fieldset.querySelector("legend").textContent.trim();
    var data = new FormData();
    data.append("csrf_token", token);
    data.append("body", textarea.value);
    fetch(headerUrl, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (read) {
        if (!read || read.found.length === 0) { return; }
        var filled = [];
        function fill(id, value, ofLanguage) {
          var input = form.querySelector("#" + id);
          if (!input) { return; }  // the contact, where this release's details are fixed
          input.value = value;
          filled.push(labelOf(id) + (ofLanguage ? " (" + language + ")" : ""));
        }
        ["title", "subtitle"].forEach(function (name) {
          if (read.found.indexOf(name) >= 0) { fill(name + "_" + lang, read[name], true); }
        });
        fill("body_" + lang, read.body, true);
        ["contact_name", "contact_phone", "contact_email"].forEach(function (name) {
          if (read.found.indexOf(name) >= 0) { fill(name, read[name], false); }
        });
        show("none", "");
        show("filled", filled.join(", "));
        show("embargo", read.embargo);
        show("department", read.department);
        notice.hidden = false;
        textarea.dispatchEvent(new Event("input", { bubbles: true }));  // the preview
      })
      .catch(function () { /* offline: the button still reads the header */ });
  }

  form.querySelectorAll("fieldset.version[data-lang]").forEach(function (fieldset) {
    var timer = null;
    fieldset.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { refresh(fieldset); }, 400);
    });
    var textarea = fieldset.querySelector("textarea");
    if (textarea && headerUrl && notice) {
      textarea.addEventListener("paste", function () {
        // After the paste has landed in the textarea.
        setTimeout(function () {
          if (HEADER_START.test(textarea.value)) { fillFromHeader(fieldset, textarea); }
        }, 0);
      });
    }
  });
})();
