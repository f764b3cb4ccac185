// Import form: refuses a file over the size limit before sending it, and shows upload
// progress for a large file. Without this file the form posts as usual; with it, the same
// request goes through XMLHttpRequest (for its upload progress events) and the page the
// server answers with replaces this one's main content.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var input = document.getElementById("file");
  var box = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var text = document.getElementById("upload-text");
  var button = form.querySelector('button[type="submit"]');
  function limit() {
    return Number(form.dataset.maxBytes || 0);
  }

  function sizeText(n) {
    var units = [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
    for (var i = 0; i < units.length; i++) {
      if (n >= units[i][1]) return (n / units[i][1]).toFixed(1) + " " + units[i][0];
    }
    return n + " bytes";
  }

  function fieldError(message) {
    var old = document.getElementById("file-error");
    if (old) old.remove();
    input.removeAttribute("aria-invalid");
    if (!message) return;
    var p = document.createElement("p");
    p.className = "field-error";
    p.id = "file-error";
    p.textContent = message;
    input.parentNode.appendChild(p);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "file-help file-error");
    input.focus();
  }

  function tooLarge(file) {
    return limit() > 0 && file.size > limit();
  }

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    fieldError(file && tooLarge(file)
      ? "The file is " + sizeText(file.size) + ", over the import limit of " + sizeText(limit()) +
        " (RLHF_MAX_IMPORT_BYTES). Compress it with gzip or split it into smaller files."
      : "");
  });

  function showPage(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var main = doc.getElementById("main");
    if (!main) {
      fieldError("The server answered with something unexpected. Reload the page and try again.");
      return;
    }
    document.getElementById("main").replaceWith(main);
    document.title = doc.title;
    var result = document.getElementById("import-refused") || document.getElementById("import-result") ||
      document.getElementById("file-error");
    var target = result || main;
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus();
    // The new form needs this script's handlers too.
    var script = document.createElement("script");
    script.src = "/static/upload.js";
    document.body.appendChild(script);
  }

  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (!file) return; // the browser's own "required" message
    event.preventDefault();
    if (tooLarge(file)) {
      input.dispatchEvent(new Event("change"));
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      bar.value = e.loaded / e.total;
      text.textContent = "Uploading: " + sizeText(e.loaded) + " of " + sizeText(e.total);
    });
    xhr.upload.addEventListener("load", function () {
      bar.removeAttribute("value"); // indeterminate while the server imports
      text.textContent = "Uploaded; importing…";
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      if (xhr.status === 413 && !/<main/.test(xhr.responseText)) {
        fieldError("The file is over the import limit of " + sizeText(limit()) + " (RLHF_MAX_IMPORT_BYTES).");
        box.hidden = true;
        return;
      }
      showPage(xhr.responseText);
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      box.hidden = true;
      fieldError("The upload failed (the connection broke). Nothing was imported; try again.");
    });
    box.hidden = false;
    bar.value = 0;
    text.textContent = "Uploading…";
    button.disabled = true;
    xhr.send(new FormData(form));
  });
})();
