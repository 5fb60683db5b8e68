/* List pages (templates/generic/object_list.html): select every row of the page, count the selection (the
   bulk buttons wait for one), and change the page size without a "Show" button. Without JS the checkboxes and the form still work. */
(function () {
  "use strict";
  var t = window.vaText;  /* static/js/strings.js: the page's words, translated on the server */
  function boxes() { return Array.prototype.slice.call(document.querySelectorAll("input.va-select")); }
  function refresh() {
    var all = document.getElementById("select-all"), count = document.getElementById("bulk-count");
    var list = boxes(), checked = list.filter(function (b) { return b.checked; }).length;
    if (all) {
      all.checked = list.length > 0 && checked === list.length;
      all.indeterminate = checked > 0 && checked < list.length;
    }
    if (count) { count.textContent = checked ? t("selected", "%(n)s selected:", {n: checked}) : count.dataset.empty; }
    document.querySelectorAll("#bulk-form button[type=submit]").forEach(function (b) { b.disabled = !checked; });
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "select-all") {
      boxes().forEach(function (b) { b.checked = target.checked; });
      refresh();
    } else if (target.classList && target.classList.contains("va-select")) {
      refresh();
    } else if (target.matches && target.matches("select[data-autosubmit]")) {
      target.form.submit();
    }
  });
  document.addEventListener("DOMContentLoaded", refresh);
})();
