/* Show only the fields that apply (voipadmin/showwhen.py): a widget with data-show-when="auth_mode=registration"
   (or "route_to=set|node") is shown while the form's field auth_mode holds one of those values; its form row is
   hidden otherwise. The server ignores and clears fields that do not apply, so hiding them loses nothing typed
   in the fields that do. Without JS every field stays visible. */
(function () {
  "use strict";
  function rowOf(el) { return el.closest(".mb-3, [data-field-row]") || el.parentElement; }
  function valueOf(form, name) {
    var fields = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if ((f.type === "radio" || f.type === "checkbox")) { if (f.checked) { return f.value; } }
      else { return f.value; }
    }
    return "";
  }
  function update(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (el) {
      var rule = el.getAttribute("data-show-when"), at = rule.indexOf("=");
      var shown = rule.slice(at + 1).split("|").indexOf(valueOf(form, rule.slice(0, at))) !== -1;
      var row = rowOf(el);
      row.classList.toggle("va-hidden-field", !shown);
      row.setAttribute("aria-hidden", shown ? "false" : "true");
    });
  }
  function init() {
    document.querySelectorAll("form").forEach(function (form) {
      if (!form.querySelector("[data-show-when]")) { return; }
      update(form);
      form.addEventListener("change", function () { update(form); });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
