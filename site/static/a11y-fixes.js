// Accessible names for three controls that the theme (pydata-sphinx-theme) and myst-nb
// write with a name that does not contain their visible text (WCAG 2.5.3, axe-core's
// `label-content-name-mismatch`), fixed here on every page (html_js_files in _config.yml):
// - the search field is named by what it shows ("Search Ctrl + K"), not "Search" alone;
// - the colour-mode button's icons lose their tooltips ("Light", "Dark", ...; Font Awesome
//   turns them into <title>s when it swaps an icon for an svg, which may happen after this
//   script first runs, hence the observer); the button's name stays "Color mode";
// - the summaries of folded code cells ("Show code cell source") lose their generic
//   aria-label, so that they are named by what they show.
(function () {
  function quietIcons(button) {
    button.querySelectorAll("[title]").forEach(function (icon) { icon.removeAttribute("title"); });
    button.querySelectorAll("title").forEach(function (title) { title.remove(); });
    button.querySelectorAll("i, svg").forEach(function (icon) { icon.setAttribute("aria-hidden", "true"); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".search-button-field").forEach(function (button) {
      button.setAttribute("aria-label", button.textContent.replace(/\s+/g, " ").trim());
    });
    document.querySelectorAll(".theme-switch-button").forEach(function (button) {
      quietIcons(button);
      new MutationObserver(function () { quietIcons(button); })
        .observe(button, { childList: true, subtree: true, attributes: true, attributeFilter: ["title"] });
    });
    document.querySelectorAll('summary[aria-label="Toggle hidden content"]').forEach(function (summary) {
      summary.removeAttribute("aria-label");
    });
  });
})();
