/* An ordered pick list (a route's trunks, trunks/forms.py OrderedTrunksWidget): rows of selects posted in
   order. Adds drag-and-drop (the whole row) and keyboard-friendly ↑ ↓ × buttons; picking in the "add" select
   turns it into a row. Without JS the selects alone still post a valid order. */
(function () {
  "use strict";
  var t = window.vaText;  /* static/js/strings.js: the page's words, translated on the server */
  function makeRow(picker, value) {
    var list = picker.querySelector("ol.va-ordered"), add = picker.querySelector("select.va-add");
    var li = document.createElement("li");
    li.setAttribute("draggable", "true");
    li.setAttribute("data-ordered-item", "");
    var select = add.cloneNode(true);
    select.className = "form-select form-select-sm va-name";
    select.removeAttribute("id");
    select.options[0].textContent = t("none", "— none —");
    select.value = value;
    li.innerHTML = '<i class="bi bi-grip-vertical text-muted va-handle" aria-hidden="true"></i>';
    li.firstChild.title = t("dragToReorder", "Drag to reorder");
    li.appendChild(select);
    [["va-up", t("moveUp", "Move up"), "bi-arrow-up", "secondary"],
     ["va-down", t("moveDown", "Move down"), "bi-arrow-down", "secondary"],
     ["va-remove", t("remove", "Remove"), "bi-x-lg", "danger"]].forEach(function (b) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-" + b[3] + " " + b[0];
      button.title = b[1];
      button.setAttribute("aria-label", b[1]);
      button.innerHTML = '<i class="bi ' + b[2] + '"></i>';
      li.appendChild(button);
    });
    list.appendChild(li);
    return li;
  }
  function labelRows(picker) {
    picker.querySelectorAll("ol.va-ordered select").forEach(function (s, i) {
      s.setAttribute("aria-label", t("trunkN", "Trunk %(n)s", {n: i + 1}));
    });
  }
  function init(picker) {
    var list = picker.querySelector("ol.va-ordered"), add = picker.querySelector("select.va-add"), dragged = null;
    add.addEventListener("change", function () {
      if (!add.value) { return; }
      makeRow(picker, add.value);
      add.value = "";
      labelRows(picker);
    });
    picker.addEventListener("click", function (event) {
      var button = event.target.closest("button"), li = button && button.closest("li");
      if (!li) { return; }
      if (button.classList.contains("va-up") && li.previousElementSibling) {
        list.insertBefore(li, li.previousElementSibling);
      } else if (button.classList.contains("va-down") && li.nextElementSibling) {
        list.insertBefore(li.nextElementSibling, li);
      } else if (button.classList.contains("va-remove")) {
        li.remove();
      }
      labelRows(picker);
      button.focus();
    });
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("li");
      if (!dragged) { return; }
      dragged.classList.add("va-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", "");
    });
    list.addEventListener("dragover", function (event) {
      var over = event.target.closest("li");
      if (!dragged || !over || over === dragged) { return; }
      event.preventDefault();
      var box = over.getBoundingClientRect();
      list.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? over.nextElementSibling : over);
    });
    list.addEventListener("drop", function (event) { event.preventDefault(); });
    list.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("va-dragging"); }
      dragged = null;
      labelRows(picker);
    });
  }
  function start() { document.querySelectorAll("[data-ordered-picker]").forEach(init); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
