/* The page's words for the portal's scripts (base.html writes them as #va-strings, translated on the server:
   voipadmin.context_processors.JS_STRINGS); English when a word is missing. ``vaText(key, english, values)``
   fills %(name)s placeholders from ``values``. Loaded before every other script of the portal. */
(function () {
  "use strict";
  var words = (function () {
    var el = document.getElementById("va-strings");
    try { return el ? JSON.parse(el.textContent) || {} : {}; } catch (e) { return {}; }
  })();
  window.vaText = function (key, english, values) {
    var text = words[key] || english;
    Object.keys(values || {}).forEach(function (k) { text = text.split("%(" + k + ")s").join(String(values[k])); });
    return text;
  };
})();
