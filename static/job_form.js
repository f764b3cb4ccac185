// Start-a-job form: when Kind changes, show that kind's typed fields (kept in <template>
// elements by the server) in place of the previous kind's. Without this script the form
// still works: a button reloads the page with the chosen kind's fields.
(function () {
  "use strict";
  var kind = document.getElementById("kind");
  var box = document.getElementById("kind-fields");
  var help = document.getElementById("kind-help");
  if (!kind || !box) return;
  var cache = {};
  var docs = {};
  var shown = kind.value;

  kind.addEventListener("change", function () {
    var next = kind.value;
    if (next === shown) return;
    var template = document.getElementById("kind-template-" + next);
    if (!template && !cache[next]) return;
    // Keep what was typed for the kind we leave, in case the user comes back to it.
    cache[shown] = Array.prototype.slice.call(box.childNodes);
    if (help) docs[shown] = help.textContent;
    box.replaceChildren.apply(box, cache[next] || [template.content.cloneNode(true)]);
    if (help) help.textContent = docs[next] || (template ? template.dataset.doc : "") || "";
    shown = next;
  });
})();
