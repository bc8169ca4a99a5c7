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
})();
