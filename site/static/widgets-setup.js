// Set-up for the ipywidgets HTML manager on pages with widgets; loaded after require.js and
// before embed-amd.js (nb_ipywidgets_js in _config.yml).
// 1. RequireJS paths: the manager loads its fonts relative to its own AMD module URL, so
//    point its module names at this site's _static/vendor/html-manager/ folder.
// 2. The widgets typeset their labels with the MathJax 2 call MathJax.Hub.Queue; this site
//    serves MathJax 3, so once MathJax is ready give it a Hub.Queue that typesets with
//    MathJax 3's typesetPromise.
(function () {
  var managerDir = new URL("vendor/html-manager", document.currentScript.src).href;
  require.config({
    paths: {
      "@jupyter-widgets": managerDir,
      "@jupyter-widgets/html-manager/dist": managerDir,
    },
  });
  window.MathJax = {
    startup: {
      ready: function () {
        MathJax.startup.defaultReady();
        MathJax.Hub = {
          Queue: function (command) {
            MathJax.typesetPromise([command[2]]);
          },
        };
      },
    },
  };
})();
