// Set-up for the ipywidgets HTML manager on pages with widgets; loaded after require.js and
// before embed-amd.js (nb_ipywidgets_js in _config.yml).
// 1. RequireJS paths: the manager loads its fonts relative to its own AMD module URL, so
//    point its module names at this site's _static/vendor/html-manager/ folder.
// 2. The widgets typeset their labels with the MathJax 2 call MathJax.Hub.Queue; this site
//    serves MathJax 3, so once MathJax is ready give it a Hub.Queue that typesets with
//    MathJax 3's typesetPromise (chained, as MathJax 3 wants typesetting calls in turn).
// 3. The theme's Font Awesome script replaces every <i class="fa ..."> with an <svg>; the
//    Play widget then finds no <i> to switch between play and pause and throws on every
//    change of its value, which stops the slider linked to it from updating the frames.
//    "nest" puts the svg inside the <i> instead.
// 4. Accessible names the widget manager does not give: each slider's handle (a div with
//    role="slider") gets its widget's description as aria-label, and the Play widget's
//    icon-only buttons get "play", "pause", "stop" and "repeat". Frames carry their own
//    text alternative (the Image widgets' tooltip, set by vae_tutorial.widgets).
(function () {
  window.FontAwesomeConfig = Object.assign({}, window.FontAwesomeConfig, { autoReplaceSvg: "nest" });
  var managerDir = new URL("vendor/html-manager", document.currentScript.src).href;
  require.config({
    paths: {
      "@jupyter-widgets": managerDir,
      "@jupyter-widgets/html-manager/dist": managerDir,
    },
  });
  var config = window.MathJax || {};  // Sphinx's configuration, when it wrote one
  config.startup = Object.assign({}, config.startup, {
    ready: function () {
      MathJax.startup.defaultReady();
      MathJax.Hub = {
        Queue: function (command) {
          MathJax.startup.promise = MathJax.startup.promise.then(function () {
            return MathJax.typesetPromise([command[2]]);
          });
        },
      };
    },
  });
  window.MathJax = config;

  var PLAY_BUTTONS = { "fa-play": "play", "fa-pause": "pause", "fa-stop": "stop", "fa-retweet": "repeat" };
  function nameWidgetControls(root) {
    root.querySelectorAll(".widget-slider .noUi-handle:not([aria-label])").forEach(function (handle) {
      var label = handle.closest(".widget-slider").querySelector(".widget-label");
      handle.setAttribute("aria-label", (label && label.textContent.trim()) || "slider");
    });
    root.querySelectorAll(".widget-play button:not([aria-label])").forEach(function (button) {
      var icon = button.querySelector("i");
      var name = icon && Object.keys(PLAY_BUTTONS).find(function (c) { return icon.classList.contains(c); });
      if (name) button.setAttribute("aria-label", PLAY_BUTTONS[name]);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    new MutationObserver(function () { nameWidgetControls(document); })
      .observe(document.body, { childList: true, subtree: true });
    nameWidgetControls(document);
  });
})();
