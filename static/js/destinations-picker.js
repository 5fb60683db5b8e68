/* A dispatcher set's destinations picked from the Asterisk nodes (services/forms.py DispatcherSetForm): the
   textarea of lines "<node> priority=N weight=N [flags=N] [attrs=...]" becomes rows — a node chosen from the
   list, its priority and weight — and every change is written back into the (then hidden) textarea, which is
   what the form posts. Without JS the textarea is the form. */
(function () {
  "use strict";
  var t = window.vaText;  /* static/js/strings.js: the page's words, translated on the server */
  var KEYS = ["priority", "weight", "flags", "attrs"];
  function parse(text) {
    return text.split("\n").map(function (line) { return line.replace(/,/g, " ").trim().split(/\s+/); })
      .filter(function (parts) { return parts[0]; })
      .map(function (parts) {
        var row = {node: parts[0]}, positional = ["priority", "weight", "flags"];
        parts.slice(1).forEach(function (part) {
          var at = part.indexOf("=");
          if (at === -1) { if (positional.length) { row[positional.shift()] = part; } }
          else { row[part.slice(0, at)] = part.slice(at + 1); }
        });
        return row;
      });
  }
  function format(rows) {
    return rows.filter(function (r) { return r.node; }).map(function (r) {
      return [r.node].concat(KEYS.filter(function (k) { return r[k] !== undefined && r[k] !== ""; })
        .map(function (k) { return k + "=" + r[k]; })).join(" ");
    }).join("\n");
  }
  function init(textarea) {
    var nodes = JSON.parse(textarea.getAttribute("data-nodes") || "[]");
    var box = document.createElement("div");
    box.className = "va-destinations";
    box.id = textarea.id + "_rows";
    textarea.insertAdjacentElement("beforebegin", box);
    textarea.classList.add("d-none");
    var rows = parse(textarea.value);
    function nodeSelect(value, placeholder) {
      var select = document.createElement("select");
      select.className = "form-select form-select-sm";
      var known = nodes.some(function (n) { return n.name === value; });
      var options = [{name: "", label: placeholder}].concat(nodes);
      if (value && !known) { options.push({name: value, label: t("unknownNode", "%(node)s (unknown node)", {node: value})}); }
      options.forEach(function (n) {
        var o = document.createElement("option");
        o.value = n.name; o.textContent = n.label; select.appendChild(o);
      });
      select.value = value || "";
      return select;
    }
    function sync() { textarea.value = format(rows); }
    function render() {
      box.innerHTML = "";
      var table = document.createElement("table");
      table.className = "table table-sm align-middle mb-2";
      var head = table.createTHead().insertRow();
      [t("asteriskNode", "Asterisk node"), t("priority", "Priority"), t("weight", "Weight"), ""].forEach(function (text) {
        var th = document.createElement("th"); th.textContent = text; head.appendChild(th);
      });
      var body = document.createElement("tbody");
      rows.forEach(function (row, i) {
        var tr = document.createElement("tr"), td = document.createElement("td"), select = nodeSelect(row.node, t("nodePlaceholder", "— node —"));
        select.setAttribute("aria-label", t("destinationNode", "Destination %(n)s node", {n: i + 1}));
        select.addEventListener("change", function () { row.node = select.value; sync(); });
        td.appendChild(select); tr.appendChild(td);
        ["priority", "weight"].forEach(function (key) {
          var cell = document.createElement("td"), input = document.createElement("input");
          input.type = "number"; input.className = "form-control form-control-sm";
          input.value = row[key] === undefined ? (key === "weight" ? "1" : "0") : row[key];
          input.setAttribute("aria-label", key === "weight" ? t("destinationWeight", "Destination %(n)s weight", {n: i + 1})
            : t("destinationPriority", "Destination %(n)s priority", {n: i + 1}));
          input.addEventListener("input", function () { row[key] = input.value; sync(); });
          cell.appendChild(input); tr.appendChild(cell);
        });
        var last = document.createElement("td"), remove = document.createElement("button");
        remove.type = "button"; remove.className = "btn btn-sm btn-outline-danger"; remove.title = t("remove", "Remove");
        remove.setAttribute("aria-label", t("removeDestination", "Remove destination %(n)s", {n: i + 1}));
        remove.innerHTML = '<i class="bi bi-x-lg"></i>';
        remove.addEventListener("click", function () { rows.splice(i, 1); sync(); render(); });
        last.appendChild(remove); tr.appendChild(last);
        body.appendChild(tr);
      });
      table.appendChild(body);
      box.appendChild(table);
      var add = nodeSelect("", t("addNodePlaceholder", "— add an Asterisk node —"));
      add.id = textarea.id + "_add";
      add.setAttribute("aria-label", t("addNode", "Add an Asterisk node"));
      add.addEventListener("change", function () {
        if (!add.value) { return; }
        rows.push({node: add.value, priority: "0", weight: "1"});
        sync(); render();
      });
      box.appendChild(add);
    }
    render();
  }
  function start() { document.querySelectorAll("textarea[data-nodes]").forEach(init); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
