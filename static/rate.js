// Keyboard shortcuts and a double-submit guard for the rating form. The page works without
// this file: it only saves mouse travel and stops a double click from posting twice.
(function () {
  "use strict";
  var form = document.getElementById("rating-form");
  if (!form) {
    return;
  }
  var feedback = document.getElementById("feedback");
  var submitButton = form.querySelector('button[value="submit"]');
  var skipButton = form.querySelector('button[value="skip"]');
  var choiceKeys = { "1": "choice-better", "2": "choice-worse", "3": "choice-same" };
  var submitted = false;

  function typing(target) {
    // Shortcuts sleep while the annotator writes: "1" in feedback is text, not a choice.
    if (!target || !target.tagName) {
      return false;
    }
    var tag = target.tagName.toLowerCase();
    return tag === "textarea" || tag === "select" || (tag === "input" && target.type === "text") || target.isContentEditable;
  }

  function send(button) {
    if (submitted) {
      return;
    }
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit(button);
    } else {
      button.click();
    }
  }

  form.addEventListener("submit", function (event) {
    if (submitted) {
      event.preventDefault();
      return;
    }
    submitted = true;
    // A strength belongs to Better or Worse; the server refuses one sent with Same. The form
    // data is read after this handler, so the cleared choice is what gets sent.
    if (document.getElementById("choice-same").checked) {
      document.getElementById("strength-none").checked = true;
    }
    // Disabled after the browser has read the form, so the clicked button's value is sent.
    window.setTimeout(function () {
      submitButton.disabled = true;
      skipButton.disabled = true;
      form.classList.add("sending");
    }, 0);
  });

  // Back/forward cache can restore a page whose form was already sent; let it be used again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      submitted = false;
      submitButton.disabled = false;
      skipButton.disabled = false;
      form.classList.remove("sending");
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.target === feedback && event.key === "Escape") {
      feedback.blur();
      return;
    }
    if (typing(event.target) || event.altKey || event.metaKey || event.isComposing) {
      return;
    }
    var key = event.key;
    if (choiceKeys[key] && !event.ctrlKey) {
      var radio = document.getElementById(choiceKeys[key]);
      radio.checked = true;
      radio.focus();
      event.preventDefault();
    } else if ((key === "k" || key === "K") && !event.ctrlKey) {
      event.preventDefault();
      send(skipButton);
    } else if (key === "Enter") {
      var tag = event.target && event.target.tagName ? event.target.tagName.toLowerCase() : "";
      if (tag === "button" || tag === "a" || tag === "summary") {
        return; // the focused control's own Enter
      }
      event.preventDefault();
      if (!form.querySelector('input[name="choice"]:checked')) {
        document.getElementById("choice-better").focus();
        form.reportValidity();
        return;
      }
      send(submitButton);
    }
  });
})();
