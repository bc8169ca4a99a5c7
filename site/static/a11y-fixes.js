// Accessible names for three controls that the theme (pydata-sphinx-theme) and myst-nb
// write with a name that does not contain their visible text (WCAG 2.5.3, axe-core's
// `label-content-name-mismatch`), fixed here on every page (html_js_files in _config.yml):
// - the search field's keyboard hint (Ctrl + K) is hidden from assistive technology, so the
//   button's visible text is "Search", its name;
// - the colour-mode button's icons lose their tooltips ("Light", "Dark", ...), which counted
//   as visible text; its name stays "Color mode";
// - the summaries of folded code cells ("Show code cell source") lose their generic
//   aria-label, so that they are named by what they show.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".search-button__kbd-shortcut").forEach(function (hint) {
    hint.setAttribute("aria-hidden", "true");
  });
  document.querySelectorAll(".theme-switch-button i[title]").forEach(function (icon) {
    icon.removeAttribute("title");
    icon.setAttribute("aria-hidden", "true");
  });
  document.querySelectorAll('summary[aria-label="Toggle hidden content"]').forEach(function (summary) {
    summary.removeAttribute("aria-label");
  });
});
