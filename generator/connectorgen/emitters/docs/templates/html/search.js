(function () {
  "use strict";
  var input = document.getElementById("search");
  var status = document.getElementById("search-status");
  var noResults = document.getElementById("no-results");
  var ops = Array.prototype.slice.call(document.querySelectorAll("[data-op]"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("[data-resource]"));
  var statics = Array.prototype.slice.call(document.querySelectorAll("[data-static]"));
  var navLinks = Array.prototype.slice.call(document.querySelectorAll("[data-nav]"));

  function matches(op, query, terms, exact) {
    if (exact) {
      return op.getAttribute("data-tool") === query;
    }
    var text = op.getAttribute("data-search");
    return terms.every(function (term) { return text.indexOf(term) !== -1; });
  }

  function apply(fromInput) {
    var query = input.value.trim().toLowerCase();
    var terms = query.split(/\s+/).filter(Boolean);
    // A complete tool name selects that tool only (other names may contain it).
    var exact = ops.some(function (op) { return op.getAttribute("data-tool") === query; });
    var shown = 0;
    ops.forEach(function (op) {
      var visible = !query || matches(op, query, terms, exact);
      op.hidden = !visible;
      if (visible) { shown += 1; }
    });
    sections.forEach(function (section) {
      var any = section.querySelector("[data-op]:not([hidden])") !== null;
      section.hidden = !any;
    });
    navLinks.forEach(function (link) {
      var section = document.getElementById("res-" + link.getAttribute("data-nav"));
      link.hidden = section ? section.hidden : false;
    });
    statics.forEach(function (block) { block.hidden = Boolean(query); });
    noResults.hidden = !query || shown > 0;
    status.textContent = query ? shown + " of " + ops.length + " operations" : ops.length + " operations";
    if (fromInput === true && history.replaceState) {
      var hash = query ? "#q=" + encodeURIComponent(query) : "";
      try { history.replaceState(null, "", hash || location.pathname + location.search); } catch (e) { /* file:// may refuse */ }
    }
  }

  // Anchors scroll below the sticky header (CSS scroll-margin-top), whose height depends on
  // the width (the search box wraps onto its own row on phones).
  var header = document.querySelector("header.top");
  function syncHeaderHeight() {
    document.documentElement.style.setProperty("--header-height", header.offsetHeight + "px");
  }
  syncHeaderHeight();
  window.addEventListener("resize", syncHeaderHeight);
  var anchored = location.hash.indexOf("#q=") === 0 ? null : document.getElementById(location.hash.slice(1));
  if (anchored) { anchored.scrollIntoView(); }  // again, now that the header height is exact

  input.addEventListener("input", function () { apply(true); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { input.value = ""; apply(true); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input) { event.preventDefault(); input.focus(); }
  });
  if (location.hash.indexOf("#q=") === 0) {
    input.value = decodeURIComponent(location.hash.slice(3));
  }
  apply(false);
}());
