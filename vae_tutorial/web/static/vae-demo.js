/* The book's VAEs in the reader's browser: the decoder and encoder of a shipped model, run
 * by plain JavaScript, and six demos that use them.
 *
 * Holds the layers these models use (Linear, Conv2d, ConvTranspose2d, ReLU, sigmoid) on
 * Float32Arrays in (C, H, W) order, `VaeModel` (encode: x -> mu, logvar; decode: z -> pixel
 * probabilities), MNIST's preprocessing of a drawn digit, the Bernoulli ELBO, and the demos:
 *   data-vae-demo="explorer"  one slider per latent dimension, all driving one image;
 *   data-vae-demo="map"       a 2-D model's latent map, decoding the point under the pointer;
 *   data-vae-demo="draw"      a canvas to draw on; the encoder's q(z|x), reconstruction, ELBO;
 *   data-vae-demo="posterior" a chosen or drawn digit's q(z|x) in a 2-D model's plane (its mean,
 *                             1- and 2-sigma ellipses over decoded images); "Draw eps again"
 *                             moves z = mu + sigma * eps inside q and updates the one-sample
 *                             ELBO, log p(x|z), the KL and the image decoded from z;
 *   data-vae-demo="iwae"      for a chosen or drawn digit: the one-sample ELBO, the IWAE
 *                             estimate L_k for k = 1..64 (a slider) and the importance-sampled
 *                             log p(x) estimate from 1000 draws, with the gaps between them;
 *   data-vae-demo="code"      the source of vae_tutorial.elbo.calc_elbo (read from the package
 *                             by the export, not copied here), each line with the value
 *                             (shape and a summary) it computes for a chosen or drawn digit.
 * The last three draw eps from a seeded generator (mulberry32) and expose eps, so a test
 * recomputes every number in PyTorch with the same noise.
 * Each demo is a <div class="vae-demo" data-vae-model="NAME" data-vae-demo="KIND"> in a
 * chapter; the weights come from _static/vae-web/NAME.js, written at build time by
 * vae_tutorial.web.export_web_model (window.vaeModels[NAME]). It does not train anything,
 * and it loads nothing: the site's Sphinx extension adds this file and the weights only to
 * pages that have a demo, as plain scripts, so the page works from file:// and offline; in
 * a notebook, vae_tutorial.web.demo puts both inline in the cell's output.
 *
 * Each demo's root element gets `vaeDemo`, its current state (tests read it); the models
 * are reachable as window.vaeWeb.model(NAME).
 */
(function () {
  "use strict";

  // ---- Tensors: base64 -> typed arrays (little-endian, as written by the export) --------

  function bytesOf(base64) {
    var text = atob(base64);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }

  function halfToFloat(h) {
    var sign = h & 0x8000 ? -1 : 1;
    var exponent = (h >> 10) & 0x1f;
    var fraction = h & 0x3ff;
    if (exponent === 0) return sign * Math.pow(2, -14) * (fraction / 1024);
    if (exponent === 31) return fraction ? NaN : sign * Infinity;
    return sign * Math.pow(2, exponent - 15) * (1 + fraction / 1024);
  }

  function float16Array(base64) {
    var bytes = bytesOf(base64);
    var halves = new Uint16Array(bytes.buffer, 0, bytes.length / 2);
    var out = new Float32Array(halves.length);
    for (var i = 0; i < halves.length; i++) out[i] = halfToFloat(halves[i]);
    return out;
  }

  /** One stored tensor as a Float32Array: float16, or int8 codes times their row's scale. */
  function loadTensor(entry) {
    if (entry.dtype === "float16") return float16Array(entry.data);
    var codes = new Int8Array(bytesOf(entry.data).buffer);
    var scales = new Float32Array(bytesOf(entry.scale).buffer);
    var columns = entry.shape[1];
    var out = new Float32Array(codes.length);
    for (var i = 0; i < codes.length; i++) out[i] = codes[i] * scales[(i / columns) | 0];
    return out;
  }

  // ---- Layers ------------------------------------------------------------------------

  /** y = W x + b: W (outF, inF) row-major, x (inF,) -> y (outF,). */
  function linear(x, W, b) {
    var outF = b.length, inF = x.length, y = new Float32Array(outF);
    for (var o = 0; o < outF; o++) {
      var s = b[o], row = o * inF;
      for (var i = 0; i < inF; i++) s += W[row + i] * x[i];
      y[o] = s;
    }
    return y;
  }

  /** Conv2d, square input: x (inC, n, n), W (outC, inC, k, k) -> (outC, m, m). */
  function conv2d(x, W, b, inC, n, k, stride, pad) {
    var outC = b.length, m = Math.floor((n + 2 * pad - k) / stride) + 1;
    var y = new Float32Array(outC * m * m);
    for (var oc = 0; oc < outC; oc++) {
      for (var oy = 0; oy < m; oy++) {
        for (var ox = 0; ox < m; ox++) {
          var s = b[oc];
          for (var ic = 0; ic < inC; ic++) {
            for (var ky = 0; ky < k; ky++) {
              var iy = oy * stride - pad + ky;
              if (iy < 0 || iy >= n) continue;
              var xRow = (ic * n + iy) * n, wRow = ((oc * inC + ic) * k + ky) * k;
              for (var kx = 0; kx < k; kx++) {
                var ix = ox * stride - pad + kx;
                if (ix >= 0 && ix < n) s += x[xRow + ix] * W[wRow + kx];
              }
            }
          }
          y[(oc * m + oy) * m + ox] = s;
        }
      }
    }
    return y;
  }

  /** ConvTranspose2d, square input: x (inC, n, n), W (inC, outC, k, k) -> (outC, m, m). */
  function convTranspose2d(x, W, b, outC, n, k, stride, pad) {
    var inC = x.length / (n * n), m = (n - 1) * stride - 2 * pad + k;
    var y = new Float32Array(outC * m * m);
    for (var ic = 0; ic < inC; ic++) {
      for (var iy = 0; iy < n; iy++) {
        for (var ix = 0; ix < n; ix++) {
          var v = x[(ic * n + iy) * n + ix];
          if (v === 0) continue;  // most inputs are ReLU zeros
          for (var oc = 0; oc < outC; oc++) {
            var wBase = (ic * outC + oc) * k * k, yBase = oc * m * m;
            for (var ky = 0; ky < k; ky++) {
              var oy = iy * stride - pad + ky;
              if (oy < 0 || oy >= m) continue;
              for (var kx = 0; kx < k; kx++) {
                var ox = ix * stride - pad + kx;
                if (ox >= 0 && ox < m) y[yBase + oy * m + ox] += v * W[wBase + ky * k + kx];
              }
            }
          }
        }
      }
    }
    for (var c = 0; c < outC; c++) for (var p = 0; p < m * m; p++) y[c * m * m + p] += b[c];
    return y;
  }

  function relu(a) {
    for (var i = 0; i < a.length; i++) if (a[i] < 0) a[i] = 0;
    return a;
  }

  function sigmoid(a) {
    var out = new Float32Array(a.length);
    for (var i = 0; i < a.length; i++) out[i] = 1 / (1 + Math.exp(-a[i]));
    return out;
  }

  function softplus(l) {
    return l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l));
  }

  // ---- The model (vae_tutorial/model.py's VAE, layer for layer) -------------------------

  function VaeModel(spec) {
    this.name = spec.name;
    this.spec = spec;
    this.latentDim = spec.config.latent_dim;
    this.channels = spec.config.channels;
    this.k = spec.config.kernel_size;
    this.pad = (this.k - 2) / 2;
    var w = {};
    Object.keys(spec.tensors).forEach(function (key) { w[key] = loadTensor(spec.tensors[key]); });
    this.w = w;
    this.examples = bytesOf(spec.examples.images);  // (N, 28, 28) uint8
    this.exampleLabels = spec.examples.labels;
    this.active = spec.active;
    if (spec.codes) {
      this.codes = float16Array(spec.codes.mu);  // (N, D)
      this.codeLabels = bytesOf(spec.codes.labels);
    }
  }

  /** q(z|x): x (784,) in [0, 1] -> {mu: (D,), logvar: (D,)}. */
  VaeModel.prototype.encode = function (x) {
    var w = this.w, c1 = this.channels[0];
    var h = relu(conv2d(x, w["encoder.0.weight"], w["encoder.0.bias"], 1, 28, this.k, 2, this.pad));  // (C1, 14, 14)
    h = relu(conv2d(h, w["encoder.2.weight"], w["encoder.2.bias"], c1, 14, this.k, 2, this.pad));  // (C2, 7, 7)
    h = relu(linear(h, w["encoder.5.weight"], w["encoder.5.bias"]));  // (hidden,)
    return { mu: linear(h, w["fc_mu.weight"], w["fc_mu.bias"]), logvar: linear(h, w["fc_logvar.weight"], w["fc_logvar.bias"]) };
  };

  /** Bernoulli logits of p(x|z): z (D,) -> (784,). */
  VaeModel.prototype.decodeLogits = function (z) {
    var w = this.w, c1 = this.channels[0];
    var h = relu(linear(Float32Array.from(z), w["decoder_fc.0.weight"], w["decoder_fc.0.bias"]));  // (hidden,)
    h = relu(linear(h, w["decoder_fc.2.weight"], w["decoder_fc.2.bias"]));  // (C2 * 7 * 7,)
    h = relu(convTranspose2d(h, w["decoder_conv.0.weight"], w["decoder_conv.0.bias"], c1, 7, this.k, 2, this.pad));  // (C1, 14, 14)
    return convTranspose2d(h, w["decoder_conv.2.weight"], w["decoder_conv.2.bias"], 1, 14, this.k, 2, this.pad);  // (1, 28, 28)
  };

  /** Pixel probabilities sigmoid(logits): z (D,) -> (784,). */
  VaeModel.prototype.decode = function (z) {
    return sigmoid(this.decodeLogits(z));
  };

  VaeModel.prototype.example = function (i) {
    var x = new Float32Array(784);
    for (var p = 0; p < 784; p++) x[p] = this.examples[i * 784 + p] / 255;
    return x;
  };

  /** ELBO of x with the draws z_s = mu + sigma * eps_s (eq. `elbo`), in nats. */
  function elbo(model, x, mu, logvar, eps) {
    var recon = 0;
    eps.forEach(function (e) {
      var z = mu.map(function (m, d) { return m + Math.exp(0.5 * logvar[d]) * e[d]; });
      var logits = model.decodeLogits(z);
      for (var p = 0; p < 784; p++) recon += x[p] * logits[p] - softplus(logits[p]);  // log Bernoulli(x | sigmoid(l))
    });
    recon /= eps.length;
    var kl = 0;
    for (var d = 0; d < mu.length; d++) kl += 0.5 * (mu[d] * mu[d] + Math.exp(logvar[d]) - 1 - logvar[d]);  // eq. kl-gauss
    return { elbo: recon - kl, reconLL: recon, kl: kl };
  }

  function gaussian() {  // Box-Muller
    var u = 1 - Math.random(), v = Math.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  // ---- MNIST's preprocessing of a drawn digit ----------------------------------------

  /** Ink (size*size, values in [0, 1]) -> (784,): the ink's bounding box scaled to fit 20x20
   * keeping its aspect (box-filter averaging), then placed so that its intensity-weighted
   * centre of mass falls on the centre of the 28x28 field (LeCun et al., MNIST). */
  function mnistPreprocess(ink, size) {
    var x0 = size, y0 = size, x1 = -1, y1 = -1;
    for (var y = 0; y < size; y++) for (var x = 0; x < size; x++) {
      if (ink[y * size + x] > 0.01) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
    var out = new Float32Array(784);
    if (x1 < 0) return out;
    var bw = x1 - x0 + 1, bh = y1 - y0 + 1, f = 20 / Math.max(bw, bh);
    var tw = Math.max(1, Math.round(bw * f)), th = Math.max(1, Math.round(bh * f));
    var sum = new Float32Array(tw * th), count = new Float32Array(tw * th);
    for (y = y0; y <= y1; y++) for (x = x0; x <= x1; x++) {
      var t = Math.min(th - 1, Math.floor((y - y0) * th / bh)) * tw + Math.min(tw - 1, Math.floor((x - x0) * tw / bw));
      sum[t] += ink[y * size + x];
      count[t] += 1;
    }
    var mass = 0, cx = 0, cy = 0;
    for (t = 0; t < tw * th; t++) {
      var v = count[t] ? sum[t] / count[t] : 0;
      sum[t] = v;
      mass += v; cx += v * (t % tw); cy += v * Math.floor(t / tw);
    }
    var ox = Math.round(13.5 - cx / mass), oy = Math.round(13.5 - cy / mass);
    ox = Math.max(0, Math.min(28 - tw, ox)); oy = Math.max(0, Math.min(28 - th, oy));
    for (t = 0; t < tw * th; t++) out[(oy + Math.floor(t / tw)) * 28 + ox + (t % tw)] = Math.min(1, sum[t]);
    return out;
  }

  // ---- Drawing helpers ---------------------------------------------------------------

  function el(tag, attrs, parent) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    if (parent) parent.appendChild(node);
    return node;
  }

  /** A 28x28 image canvas shown larger by CSS (pixelated), with a text alternative. */
  function imageCanvas(parent, label, cls) {
    var canvas = el("canvas", { width: 28, height: 28, role: "img", "aria-label": label, class: "vae-demo-image " + (cls || "") }, parent);
    return canvas;
  }

  /** Probabilities (784,) drawn as the book draws digits: black ink on white. */
  function paint(canvas, probs) {
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(28, 28);
    for (var p = 0; p < 784; p++) {
      var g = Math.round(255 * (1 - probs[p]));
      img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = g;
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  function fmt(v) { return (v < 0 ? "\u2212" : "") + Math.abs(v).toFixed(2); }

  function describeCode(z) { return "z = (" + Array.prototype.map.call(z, fmt).join(", ") + ")"; }

  /** Run `draw` at most once per animation frame however many inputs arrive. */
  function scheduler(draw) {
    var pending = false;
    return function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; draw(); });
    };
  }

  // ---- Demo 1: the joint explorer ------------------------------------------------------

  function explorer(root, model) {
    var D = model.latentDim, z = new Float32Array(D), exampleIndex = -1;
    var figure = el("div", { class: "vae-demo-figure" }, root);
    var canvas = imageCanvas(figure, "decoded image", "vae-demo-large");
    var caption = el("p", { class: "vae-demo-caption" }, figure);
    var buttons = el("div", { class: "vae-demo-buttons" }, root);
    var prior = el("button", { type: "button", text: "A sample from the prior" }, buttons);
    var posterior = el("button", { type: "button", text: "Posterior mean of a test digit" }, buttons);
    var zero = el("button", { type: "button", text: "All zero" }, buttons);
    var grid = el("div", { class: "vae-demo-sliders" }, root);
    var sliders = [], outputs = [];
    var state = root.vaeDemo = { z: z, image: null, decodeMs: [] };
    for (var d = 0; d < D; d++) {
      var row = el("div", { class: "vae-demo-slider" + (model.active[d] ? "" : " vae-demo-inactive") }, grid);
      var id = root.id + "-z" + (d + 1);
      el("label", { for: id, text: "z" + (d + 1) + (model.active[d] ? "" : " (inactive)") }, row);
      var input = el("input", { type: "range", id: id, min: -3, max: 3, step: 0.05, value: 0 }, row);
      var output = el("output", { for: id, text: fmt(0) }, row);
      (function (d, input) {
        input.addEventListener("input", function () { z[d] = parseFloat(input.value); exampleIndex = -1; redraw(); });
      })(d, input);
      sliders.push(input);
      outputs.push(output);
    }
    function draw() {
      var start = performance.now();
      var probs = model.decode(z);
      state.decodeMs.push(performance.now() - start);
      state.image = probs;
      paint(canvas, probs);
      var what = exampleIndex >= 0 ? "the posterior mean of a test " + model.exampleLabels[exampleIndex] : "the sliders' code";
      canvas.setAttribute("aria-label", "Decoded image of " + what + ", " + describeCode(z));
      caption.textContent = "Decoded from " + what + ".";
      for (var d = 0; d < D; d++) outputs[d].textContent = fmt(z[d]);
    }
    var redraw = scheduler(draw);
    function setZ(values) {
      for (var d = 0; d < D; d++) {
        z[d] = Math.max(-3, Math.min(3, values[d]));
        sliders[d].value = z[d];
        z[d] = parseFloat(sliders[d].value);
      }
      draw();
    }
    prior.addEventListener("click", function () { exampleIndex = -1; setZ(z.map(gaussian)); });
    posterior.addEventListener("click", function () {
      exampleIndex = (exampleIndex + 1) % model.exampleLabels.length;
      var i = exampleIndex;
      setZ(model.encode(model.example(i)).mu);
      exampleIndex = i;
      draw();
    });
    zero.addEventListener("click", function () { exampleIndex = -1; setZ(new Float32Array(D)); });
    state.setZ = setZ;
    draw();
  }

  // ---- Demo 2: the latent map of a 2-D model -------------------------------------------

  // vae_tutorial.plotting.DIGIT_COLOURS (a test keeps the two equal): every pair stays apart
  // under simulated colour-vision deficiencies; the glyphs (the digit itself) carry the class.
  var DIGIT_COLOURS = ["#249292", "#000000", "#6D4900", "#242492", "#9249FF", "#929200", "#DB246D", "#000049", "#920049", "#490000"];

  function latentMap(root, model) {
    if (model.latentDim !== 2) throw new Error("the latent map needs a model with latent_dim 2, got " + model.latentDim);
    var n = model.spec.codes.count, codes = model.codes, labels = model.codeLabels;
    var range = 0;
    for (var i = 0; i < 2 * n; i++) range = Math.max(range, Math.abs(codes[i]));
    range = Math.min(5, Math.ceil(range * 2) / 2);
    var size = 360, z = new Float32Array([0, 0]);
    var wrap = el("div", { class: "vae-demo-map-wrap" }, root);
    var mapId = root.id + "-map";
    el("p", { class: "vae-demo-label", text: "Latent map: point at it, or focus it (Tab) and use the arrow keys." }, wrap);
    var map = el("canvas", { width: size, height: size, tabindex: 0, id: mapId, class: "vae-demo-map", role: "application",
      "aria-roledescription": "latent map",
      "aria-label": "Latent map of " + n + " test digits, each drawn as its own digit at its posterior mean. Move the pointer, or use the arrow keys, to decode a point." }, wrap);
    var figure = el("div", { class: "vae-demo-figure" }, wrap);
    var canvas = imageCanvas(figure, "decoded image", "vae-demo-large");
    var caption = el("p", { class: "vae-demo-caption", "aria-live": "polite" }, figure);
    var state = root.vaeDemo = { z: z, image: null, range: range, size: size, decodeMs: [] };
    var background = document.createElement("canvas");
    background.width = background.height = size;
    var bg = background.getContext("2d");
    bg.fillStyle = "#fff"; bg.fillRect(0, 0, size, size);
    bg.font = "bold 9px sans-serif"; bg.textAlign = "center"; bg.textBaseline = "middle";
    function toPixel(v) { return (v + range) / (2 * range) * size; }
    for (i = 0; i < n; i++) {
      bg.fillStyle = DIGIT_COLOURS[labels[i]];
      bg.fillText(String(labels[i]), toPixel(codes[2 * i]), size - toPixel(codes[2 * i + 1]));
    }
    bg.strokeStyle = "#444"; bg.lineWidth = 1; bg.fillStyle = "#222"; bg.font = "11px sans-serif";
    bg.beginPath(); bg.moveTo(0, size / 2); bg.lineTo(size, size / 2); bg.moveTo(size / 2, 0); bg.lineTo(size / 2, size); bg.stroke();
    bg.textAlign = "right"; bg.fillText("z1 = " + range, size - 4, size / 2 - 8);
    bg.textAlign = "left"; bg.fillText("z2 = " + range, size / 2 + 4, 10);
    var ctx = map.getContext("2d");
    function draw() {
      ctx.drawImage(background, 0, 0);
      var px = toPixel(z[0]), py = size - toPixel(z[1]);
      ctx.strokeStyle = "#d00"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.moveTo(px - 11, py); ctx.lineTo(px + 11, py); ctx.moveTo(px, py - 11); ctx.lineTo(px, py + 11); ctx.stroke();
      var start = performance.now();
      var probs = model.decode(z);
      state.decodeMs.push(performance.now() - start);
      state.image = probs;
      state.marker = [px, py];
      paint(canvas, probs);
      var text = "Decoded at " + describeCode(z) + ".";
      canvas.setAttribute("aria-label", "Decoded image at " + describeCode(z));
      caption.textContent = text;
    }
    var redraw = scheduler(draw);
    function setZ(a, b) {
      z[0] = Math.max(-range, Math.min(range, a));
      z[1] = Math.max(-range, Math.min(range, b));
      redraw();
    }
    function fromEvent(event) {
      var box = map.getBoundingClientRect();
      var u = (event.clientX - box.left) / box.width, v = (event.clientY - box.top) / box.height;
      setZ((2 * u - 1) * range, (1 - 2 * v) * range);
    }
    map.addEventListener("pointermove", fromEvent);
    map.addEventListener("pointerdown", function (event) { map.focus(); fromEvent(event); });
    map.addEventListener("keydown", function (event) {
      var step = event.shiftKey ? 0.5 : 0.1, moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (!moves[event.key]) return;
      event.preventDefault();
      setZ(z[0] + moves[event.key][0], z[1] + moves[event.key][1]);
    });
    state.setZ = function (a, b) { setZ(a, b); draw(); };
    draw();
  }

  // ---- Demo 3: draw a digit ----------------------------------------------------------

  var DRAW_SIZE = 224, STROKE = 0.08, SAMPLES = 4;

  function drawDigit(root, model) {
    var D = model.latentDim;
    var left = el("div", { class: "vae-demo-draw-input" }, root);
    el("p", { class: "vae-demo-label", text: "Draw a digit in the box:" }, left);
    var pad = el("canvas", { width: DRAW_SIZE, height: DRAW_SIZE, class: "vae-demo-pad", role: "img",
      "aria-label": "Drawing area: draw a digit with the mouse, a finger or a pen. Use the buttons below for a test digit instead." }, left);
    var buttons = el("div", { class: "vae-demo-buttons" }, left);
    var clear = el("button", { type: "button", text: "Clear" }, buttons);
    var example = el("button", { type: "button", text: "Draw a test digit for me" }, buttons);
    var resample = el("button", { type: "button", text: "New samples from q(z|x)" }, buttons);
    var right = el("div", { class: "vae-demo-draw-output" }, root);
    var row = el("div", { class: "vae-demo-row" }, right);
    function labelled(text) {
      var box = el("figure", { class: "vae-demo-small" }, row);
      var c = imageCanvas(box, text);
      el("figcaption", { text: text }, box);
      return c;
    }
    var inputCanvas = labelled("the encoder's input (28\u00d728)");
    var reconCanvas = labelled("reconstruction from \u03bc");
    var sampleCanvases = [];
    for (var s = 0; s < SAMPLES; s++) sampleCanvases.push(labelled("decoded sample " + (s + 1) + " from q(z|x)"));
    var bars = el("canvas", { width: 480, height: 160, class: "vae-demo-bars", role: "img", "aria-label": "posterior bars" }, right);
    var summary = el("p", { class: "vae-demo-caption", "aria-live": "polite", text: "Draw a digit to encode it." }, right);
    var state = root.vaeDemo = { input: null, mu: null, logvar: null, eps: null, recon: null, samples: [], elbo: null };
    var ctx = pad.getContext("2d");
    function clearPad() {
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, DRAW_SIZE, DRAW_SIZE);
    }
    clearPad();
    function ink() {
      var data = ctx.getImageData(0, 0, DRAW_SIZE, DRAW_SIZE).data, out = new Float32Array(DRAW_SIZE * DRAW_SIZE);
      for (var p = 0; p < out.length; p++) out[p] = 1 - data[4 * p] / 255;  // black strokes on white -> ink in [0, 1]
      return out;
    }
    function drawBars(mu, sigma) {
      var b = bars.getContext("2d"), w = bars.width, h = bars.height, scale = h / 8, step = w / D;
      b.fillStyle = "#fff"; b.fillRect(0, 0, w, h);
      b.strokeStyle = "#999"; b.beginPath(); b.moveTo(0, h / 2); b.lineTo(w, h / 2); b.stroke();
      b.font = "10px sans-serif"; b.textAlign = "center";
      for (var d = 0; d < D; d++) {
        var x = d * step + step / 2, m = Math.max(-4, Math.min(4, mu[d]));
        b.fillStyle = model.active[d] ? "#332288" : "#aaa";
        b.fillRect(x - step * 0.3, h / 2 - Math.max(0, m) * scale, step * 0.6, Math.abs(m) * scale);
        b.strokeStyle = "#CC6677"; b.lineWidth = 2; b.beginPath();
        b.moveTo(x, h / 2 - (m + sigma[d]) * scale); b.lineTo(x, h / 2 - (m - sigma[d]) * scale); b.stroke();
        b.fillStyle = "#222"; b.fillText("z" + (d + 1), x, h - 2);
      }
      bars.setAttribute("aria-label", "Posterior of the drawing per dimension: " + mu.map(function (m, d) {
        return "z" + (d + 1) + " mean " + fmt(m) + " sigma " + sigma[d].toFixed(2);
      }).join("; "));
    }
    function update(newSamples) {
      var x = mnistPreprocess(ink(), DRAW_SIZE);
      var total = 0;
      for (var p = 0; p < 784; p++) total += x[p];
      state.input = x;
      paint(inputCanvas, x);
      if (total === 0) { summary.textContent = "Draw a digit to encode it."; return; }
      var q = model.encode(x), sigma = Array.prototype.map.call(q.logvar, function (v) { return Math.exp(0.5 * v); });
      if (newSamples || !state.eps) {
        state.eps = [];
        for (var s = 0; s < SAMPLES; s++) { var e = []; for (var d = 0; d < D; d++) e.push(gaussian()); state.eps.push(e); }
      }
      state.mu = q.mu; state.logvar = q.logvar;
      state.recon = model.decode(q.mu);
      paint(reconCanvas, state.recon);
      state.samples = state.eps.map(function (e, s) {
        var probs = model.decode(q.mu.map(function (m, d) { return m + sigma[d] * e[d]; }));
        paint(sampleCanvases[s], probs);
        return probs;
      });
      drawBars(Array.from(q.mu), sigma);
      var bound = elbo(model, x, q.mu, q.logvar, state.eps);
      state.elbo = bound;
      summary.textContent = "ELBO of your drawing: " + fmt(bound.elbo) + " nats = reconstruction log-likelihood " +
        fmt(bound.reconLL) + " (mean over the " + SAMPLES + " samples shown) \u2212 KL " + bound.kl.toFixed(2) + ".";
    }
    var redraw = scheduler(function () { update(false); });
    var drawing = false, last = null;
    function point(event) {
      var box = pad.getBoundingClientRect();
      return [(event.clientX - box.left) * DRAW_SIZE / box.width, (event.clientY - box.top) * DRAW_SIZE / box.height];
    }
    function stroke(to) {
      ctx.strokeStyle = "#000"; ctx.lineWidth = STROKE * DRAW_SIZE; ctx.lineCap = ctx.lineJoin = "round";
      ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(to[0], to[1]); ctx.stroke();
      last = to;
    }
    pad.addEventListener("pointerdown", function (event) {
      drawing = true; last = point(event); stroke(last); event.preventDefault();
      try { pad.setPointerCapture(event.pointerId); } catch (error) { /* a pointer the browser does not track */ }
    });
    pad.addEventListener("pointermove", function (event) { if (drawing) { stroke(point(event)); redraw(); } });
    function end() { if (drawing) { drawing = false; update(true); } }
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    var exampleIndex = -1;
    clear.addEventListener("click", function () { clearPad(); state.eps = null; update(true); });
    example.addEventListener("click", function () {
      exampleIndex = (exampleIndex + 1) % model.exampleLabels.length;
      var x = model.example(exampleIndex), img = ctx.createImageData(28, 28), small = document.createElement("canvas");
      small.width = small.height = 28;
      for (var p = 0; p < 784; p++) { var g = Math.round(255 * (1 - x[p])); img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = g; img.data[4 * p + 3] = 255; }
      small.getContext("2d").putImageData(img, 0, 0);
      clearPad(); ctx.imageSmoothingEnabled = true; ctx.drawImage(small, 0, 0, DRAW_SIZE, DRAW_SIZE);
      update(true);
    });
    resample.addEventListener("click", function () { update(true); });
    state.update = update;
  }

  // ---- Seeded noise: the same seed gives the same eps (the page exposes both) ---------

  /** mulberry32 (Tommy Ettinger's 32-bit generator): uniform draws in [0, 1) from a seed. */
  function mulberry32(seed) {
    var a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      var t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** n draws eps ~ N(0, I_D) from `rand` (Box-Muller), as n arrays of D numbers. */
  function drawEps(rand, n, D) {
    var eps = [];
    for (var s = 0; s < n; s++) {
      var e = [];
      for (var d = 0; d < D; d++) {
        var u = 1 - rand(), v = rand();
        e.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
      }
      eps.push(e);
    }
    return eps;
  }

  var LOG_2PI = Math.log(2 * Math.PI);

  /** log N(z; mu, diag(exp(logvar))), summed over the D dimensions (model.py's gaussian_log_prob). */
  function gaussianLogProb(z, mu, logvar) {
    var s = 0;
    for (var d = 0; d < z.length; d++) {
      var m = mu ? mu[d] : 0, lv = logvar ? logvar[d] : 0;
      s += (z[d] - m) * (z[d] - m) * Math.exp(-lv) + lv + LOG_2PI;
    }
    return -0.5 * s;
  }

  /** log p(x|z) of Bernoulli pixels from the decoder's logits, summed over the 784 pixels. */
  function bernoulliLogLikelihood(logits, x) {
    var s = 0;
    for (var p = 0; p < 784; p++) s += x[p] * logits[p] - softplus(logits[p]);
    return s;
  }

  /** What one draw eps gives for x: z = mu + sigma * eps (eq. `reparam`), its logits,
   * log p(x|z), the closed-form KL (eq. `kl-gauss`) and the one-sample ELBO = log p(x|z) - KL. */
  function oneDraw(model, x, mu, logvar, eps) {
    var z = Array.prototype.map.call(mu, function (m, d) { return m + Math.exp(0.5 * logvar[d]) * eps[d]; });
    var logits = model.decodeLogits(z);
    var reconLL = bernoulliLogLikelihood(logits, x);
    var kl = 0;
    for (var d = 0; d < mu.length; d++) kl += 0.5 * (mu[d] * mu[d] + Math.exp(logvar[d]) - 1 - logvar[d]);
    return { z: z, logits: logits, reconLL: reconLL, kl: kl, elbo: reconLL - kl };
  }

  /** log w = log p(x|z) + log p(z) - log q(z|x) for one draw (eq. `iwae`). */
  function logWeight(model, x, mu, logvar, eps) {
    var z = Array.prototype.map.call(mu, function (m, d) { return m + Math.exp(0.5 * logvar[d]) * eps[d]; });
    return bernoulliLogLikelihood(model.decodeLogits(z), x) + gaussianLogProb(z) - gaussianLogProb(z, mu, logvar);
  }

  /** log (1/k) sum_i exp(logW_i) over the first k entries, stably (elbo.py's log_mean_exp). */
  function logMeanExp(logW, k) {
    var top = -Infinity, s = 0, i;
    for (i = 0; i < k; i++) top = Math.max(top, logW[i]);
    for (i = 0; i < k; i++) s += Math.exp(logW[i] - top);
    return top + Math.log(s / k);
  }

  function signed(v, digits) { return (v < 0 ? "\u2212" : "") + Math.abs(v).toFixed(digits); }

  function vector(v, digits) { return "(" + Array.prototype.map.call(v, function (a) { return signed(a, digits || 2); }).join(", ") + ")"; }

  // ---- A digit to work on: a few test digits to choose, or the reader's own drawing --------

  var CHOICES = 8, PAD_SIZE = 224;

  /** Test-digit buttons and a drawing pad; calls onDigit(x (784,), description) with the
   * encoder's input whenever the reader chooses or finishes drawing a digit. */
  function digitInput(root, model, onDigit) {
    var box = el("div", { class: "vae-demo-digit-input" }, root);
    el("p", { class: "vae-demo-label", text: "Choose a test digit, or draw one:" }, box);
    var choices = el("div", { class: "vae-demo-choices", role: "group", "aria-label": "Test digits" }, box);
    var buttons = [];
    for (var i = 0; i < CHOICES; i++) {
      var label = String(model.exampleLabels[i]);
      var button = el("button", { type: "button", class: "vae-demo-choice", "aria-pressed": "false",
        "aria-label": "test digit " + (i + 1) + ": a " + label }, choices);
      var thumb = el("canvas", { width: 28, height: 28, "aria-hidden": "true", class: "vae-demo-thumb" }, button);
      paint(thumb, model.example(i));
      el("span", { text: label }, button);
      (function (i) { button.addEventListener("click", function () { choose(i); }); })(i);
      buttons.push(button);
    }
    var pad = el("canvas", { width: PAD_SIZE, height: PAD_SIZE, class: "vae-demo-pad vae-demo-pad-small", role: "img",
      "aria-label": "Drawing area: draw a digit with the mouse, a finger or a pen; it is encoded when you lift the pointer. With the keyboard, choose a test digit above." }, box);
    var clear = el("button", { type: "button", text: "Clear the drawing" }, el("div", { class: "vae-demo-buttons" }, box));
    var ctx = pad.getContext("2d");
    function clearPad() { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, PAD_SIZE, PAD_SIZE); }
    clearPad();
    function press(i) { buttons.forEach(function (b, j) { b.setAttribute("aria-pressed", String(i === j)); }); }
    function choose(i) {
      press(i);
      clearPad();
      onDigit(model.example(i), "test digit " + (i + 1) + " (a " + model.exampleLabels[i] + ")");
    }
    var drawing = false, last = null;
    function point(event) {
      var r = pad.getBoundingClientRect();
      return [(event.clientX - r.left) * PAD_SIZE / r.width, (event.clientY - r.top) * PAD_SIZE / r.height];
    }
    function stroke(to) {
      ctx.strokeStyle = "#000"; ctx.lineWidth = STROKE * PAD_SIZE; ctx.lineCap = ctx.lineJoin = "round";
      ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(to[0], to[1]); ctx.stroke();
      last = to;
    }
    pad.addEventListener("pointerdown", function (event) {
      drawing = true; last = point(event); stroke(last); event.preventDefault();
      try { pad.setPointerCapture(event.pointerId); } catch (error) { /* a pointer the browser does not track */ }
    });
    pad.addEventListener("pointermove", function (event) { if (drawing) stroke(point(event)); });
    function end() {
      if (!drawing) return;
      drawing = false;
      var data = ctx.getImageData(0, 0, PAD_SIZE, PAD_SIZE).data, ink = new Float32Array(PAD_SIZE * PAD_SIZE);
      for (var p = 0; p < ink.length; p++) ink[p] = 1 - data[4 * p] / 255;
      press(-1);
      onDigit(mnistPreprocess(ink, PAD_SIZE), "your drawing");
    }
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
    clear.addEventListener("click", clearPad);
    return { choose: choose };
  }

  function labelledImage(parent, text) {
    var box = el("figure", { class: "vae-demo-small" }, parent);
    var canvas = imageCanvas(box, text);
    el("figcaption", { text: text }, box);
    return canvas;
  }

  /** A small table of named numbers, updated in place: rows [[key, label]] -> {key: <td>}. */
  function numberTable(parent, caption, rows) {
    var table = el("table", { class: "vae-demo-numbers" }, parent);
    el("caption", { text: caption }, table);
    var body = el("tbody", {}, table), cells = {};
    rows.forEach(function (row) {
      var tr = el("tr", {}, body);
      el("th", { scope: "row", text: row[1] }, tr);
      cells[row[0]] = el("td", {}, tr);
    });
    return cells;
  }

  // ---- Demo 4: q(z|x) in the plane of a 2-D model, and "draw eps again" ----------------

  var GRID = 7;  // the zoomed view decodes a GRID x GRID grid of codes under the ellipses

  function posteriorDemo(root, model) {
    if (model.latentDim !== 2) throw new Error("the posterior demo needs a model with latent_dim 2, got " + model.latentDim);
    var n = model.spec.codes.count, codes = model.codes, labels = model.codeLabels, range = 0, i;
    for (i = 0; i < 2 * n; i++) range = Math.max(range, Math.abs(codes[i]));
    range = Math.min(5, Math.ceil(range * 2) / 2);
    var input = digitInput(root, model, setDigit);
    var views = el("div", { class: "vae-demo-views" }, root);
    var PLANE = 200, ZOOM = 280;
    var planeBox = el("figure", { class: "vae-demo-view" }, views);
    var plane = el("canvas", { width: PLANE, height: PLANE, role: "img", class: "vae-demo-plane", "aria-label": "latent plane" }, planeBox);
    el("figcaption", { text: "Where q(z|x) sits among the test digits' means (the box is the zoomed view)." }, planeBox);
    var zoomBox = el("figure", { class: "vae-demo-view" }, views);
    var zoom = el("canvas", { width: ZOOM, height: ZOOM, role: "img", class: "vae-demo-zoom", "aria-label": "zoomed view of q(z|x)" }, zoomBox);
    el("figcaption", { text: "Zoomed: q(z|x) as its 1\u03c3 and 2\u03c3 ellipses over images decoded on a grid; + the mean, \u25cf this draw of z, \u00b7 earlier draws." }, zoomBox);
    var out = el("div", { class: "vae-demo-draw-output" }, root);
    var row = el("div", { class: "vae-demo-row" }, out);
    var inputCanvas = labelledImage(row, "the encoder's input x");
    var reconCanvas = labelledImage(row, "decoded from this z");
    var again = el("button", { type: "button", text: "Draw \u03b5 again" }, el("div", { class: "vae-demo-buttons" }, out));
    var cells = numberTable(out, "This draw, in nats", [["mu", "\u03bc (mean of q)"], ["sigma", "\u03c3"], ["eps", "\u03b5"],
      ["z", "z = \u03bc + \u03c3 \u03b5"], ["reconLL", "log p(x|z), reconstruction term"], ["kl", "KL(q(z|x) \u2016 p(z))"],
      ["elbo", "one-sample ELBO = log p(x|z) \u2212 KL"], ["mean", "mean of the one-sample ELBOs so far"]]);
    var summary = el("p", { class: "vae-demo-caption", "aria-live": "polite" }, out);
    var state = root.vaeDemo = { seed: 1, x: null, digit: null, mu: null, logvar: null, eps: null, z: null, recon: null,
      reconLL: null, kl: null, elbo: null, history: [], range: range };
    var rand = mulberry32(state.seed);
    var background = document.createElement("canvas");
    background.width = background.height = PLANE;
    var bg = background.getContext("2d");
    bg.fillStyle = "#fff"; bg.fillRect(0, 0, PLANE, PLANE);
    function toPlane(v) { return (v + range) / (2 * range) * PLANE; }
    bg.globalAlpha = 0.35;
    for (i = 0; i < n; i++) {
      bg.fillStyle = DIGIT_COLOURS[labels[i]];
      bg.fillRect(toPlane(codes[2 * i]) - 0.75, PLANE - toPlane(codes[2 * i + 1]) - 0.75, 1.5, 1.5);
    }
    bg.globalAlpha = 1; bg.strokeStyle = "#444"; bg.lineWidth = 1;
    bg.beginPath(); bg.moveTo(0, PLANE / 2); bg.lineTo(PLANE, PLANE / 2); bg.moveTo(PLANE / 2, 0); bg.lineTo(PLANE / 2, PLANE); bg.stroke();
    bg.fillStyle = "#222"; bg.font = "10px sans-serif"; bg.textAlign = "right"; bg.fillText("z1 = " + range, PLANE - 3, PLANE / 2 - 5);
    bg.textAlign = "left"; bg.fillText("z2 = " + range, PLANE / 2 + 3, 10);
    var tiles = document.createElement("canvas"), window_ = null;
    tiles.width = tiles.height = ZOOM;
    function setDigit(x, description) {
      var q = model.encode(x);
      state.x = x; state.digit = description; state.mu = Array.from(q.mu); state.logvar = Array.from(q.logvar);
      state.sigma = state.logvar.map(function (v) { return Math.exp(0.5 * v); });
      state.history = [];
      paint(inputCanvas, x);
      var half = Math.max(3 * Math.max(state.sigma[0], state.sigma[1]), 0.05);  // the zoomed view: mu +- 3 sigma
      window_ = { c0: state.mu[0], c1: state.mu[1], half: half };
      var t = tiles.getContext("2d"), cell = ZOOM / GRID, small = document.createElement("canvas");
      small.width = small.height = 28;
      t.imageSmoothingEnabled = false;
      for (var a = 0; a < GRID; a++) for (var b = 0; b < GRID; b++) {
        var zc = [window_.c0 + ((a + 0.5) / GRID * 2 - 1) * half, window_.c1 - ((b + 0.5) / GRID * 2 - 1) * half];
        paint(small, model.decode(zc));
        t.drawImage(small, a * cell, b * cell, cell, cell);
      }
      t.fillStyle = "rgba(255, 255, 255, 0.55)"; t.fillRect(0, 0, ZOOM, ZOOM);  // fade the images under the ellipses
      drawAgain();
    }
    function drawAgain() {
      state.eps = drawEps(rand, 1, 2)[0];
      var r = oneDraw(model, state.x, state.mu, state.logvar, state.eps);
      state.z = r.z; state.reconLL = r.reconLL; state.kl = r.kl; state.elbo = r.elbo;
      state.recon = sigmoid(r.logits);
      state.history.push({ z: r.z, elbo: r.elbo });
      render();
    }
    function render() {
      var p = plane.getContext("2d"), mu = state.mu, sigma = state.sigma, w = window_;
      p.drawImage(background, 0, 0);
      var x0 = toPlane(w.c0 - w.half), x1 = toPlane(w.c0 + w.half);
      p.strokeStyle = "#d00"; p.lineWidth = 2;
      p.strokeRect(x0, PLANE - toPlane(w.c1 + w.half), Math.max(3, x1 - x0), Math.max(3, x1 - x0));
      var c = zoom.getContext("2d");
      c.drawImage(tiles, 0, 0);
      function zx(v) { return (v - w.c0 + w.half) / (2 * w.half) * ZOOM; }
      function zy(v) { return ZOOM - (v - w.c1 + w.half) / (2 * w.half) * ZOOM; }
      var scale = ZOOM / (2 * w.half);
      [[2, "rgba(26, 95, 180, 0.12)", "#1a5fb4"], [1, "rgba(26, 95, 180, 0.22)", "#1a5fb4"]].forEach(function (e) {
        c.beginPath(); c.ellipse(zx(mu[0]), zy(mu[1]), e[0] * sigma[0] * scale, e[0] * sigma[1] * scale, 0, 0, 2 * Math.PI);
        c.fillStyle = e[1]; c.fill(); c.strokeStyle = e[2]; c.lineWidth = 2; c.stroke();
      });
      c.fillStyle = "#1a5fb4"; c.font = "12px sans-serif"; c.textAlign = "left";
      c.fillText("1\u03c3", zx(mu[0] + sigma[0]) + 3, zy(mu[1]) - 3); c.fillText("2\u03c3", zx(mu[0] + 2 * sigma[0]) + 3, zy(mu[1]) - 3);
      c.strokeStyle = "#000"; c.lineWidth = 2;
      c.beginPath(); c.moveTo(zx(mu[0]) - 8, zy(mu[1])); c.lineTo(zx(mu[0]) + 8, zy(mu[1])); c.moveTo(zx(mu[0]), zy(mu[1]) - 8); c.lineTo(zx(mu[0]), zy(mu[1]) + 8); c.stroke();
      state.history.forEach(function (h, k) {
        var last = k === state.history.length - 1;
        c.beginPath(); c.arc(zx(h.z[0]), zy(h.z[1]), last ? 6 : 2.5, 0, 2 * Math.PI);
        c.fillStyle = last ? "#c01c28" : "#333"; c.fill();
        if (last) { c.strokeStyle = "#fff"; c.lineWidth = 1.5; c.stroke(); }
      });
      paint(reconCanvas, state.recon);
      reconCanvas.setAttribute("aria-label", "Decoded from z = " + vector(state.z));
      var mean = state.history.reduce(function (s, h) { return s + h.elbo; }, 0) / state.history.length;
      state.meanElbo = mean;
      cells.mu.textContent = vector(mu); cells.sigma.textContent = vector(sigma, 3); cells.eps.textContent = vector(state.eps);
      cells.z.textContent = vector(state.z); cells.reconLL.textContent = signed(state.reconLL, 2);
      cells.kl.textContent = signed(state.kl, 2); cells.elbo.textContent = signed(state.elbo, 2);
      cells.mean.textContent = signed(mean, 2) + " (" + state.history.length + (state.history.length === 1 ? " draw)" : " draws)");
      plane.setAttribute("aria-label", "The latent plane from " + (-range) + " to " + range + " in both coordinates, with the posterior means of " + n +
        " test digits as dots coloured by class; q(z|x) of " + state.digit + " has its mean at " + vector(mu) + ".");
      zoom.setAttribute("aria-label", "Zoomed view around the mean " + vector(mu) + " of q(z|x), half-width " + w.half.toFixed(2) +
        ": its 1-sigma and 2-sigma ellipses (sigma = " + vector(sigma, 3) + ") over the images decoded on a " + GRID + " by " + GRID +
        " grid, and the draw z = " + vector(state.z) + ".");
      summary.textContent = "Draw " + state.history.length + " for " + state.digit + ": one-sample ELBO " + signed(state.elbo, 2) +
        " nats = log p(x|z) " + signed(state.reconLL, 2) + " \u2212 KL " + state.kl.toFixed(2) + ".";
    }
    again.addEventListener("click", drawAgain);
    state.choose = input.choose; state.setDigit = setDigit; state.drawAgain = drawAgain;
    input.choose(0);
  }

  // ---- Demo 5: the ELBO, the IWAE bound L_k and the importance-sampled log p(x) ----------

  var K_MAX = 64, K_LOGP = 1000, CHUNK = 25;

  function iwaeDemo(root, model) {
    var D = model.latentDim;
    var input = digitInput(root, model, setDigit);
    var out = el("div", { class: "vae-demo-draw-output" }, root);
    var row = el("div", { class: "vae-demo-row" }, out);
    var inputCanvas = labelledImage(row, "the encoder's input x");
    var sliderId = root.id + "-k";
    var slider = el("div", { class: "vae-demo-slider vae-demo-k" }, out);
    el("label", { for: sliderId, text: "k, importance samples" }, slider);
    var k = el("input", { type: "range", id: sliderId, min: 1, max: K_MAX, step: 1, value: 1 }, slider);
    var kOut = el("output", { for: sliderId, text: "1" }, slider);
    var again = el("button", { type: "button", text: "Draw new \u03b5 (all " + K_LOGP + ")" }, el("div", { class: "vae-demo-buttons" }, out));
    var chart = el("canvas", { width: 480, height: 220, class: "vae-demo-bars vae-demo-chart", role: "img", "aria-label": "bounds" }, out);
    var cells = numberTable(out, "One draw of each estimate, in nats (higher is tighter)", [
      ["elbo", "one-sample ELBO (calc_elbo: log p(x|z\u2081) \u2212 KL in closed form)"],
      ["iwae", "IWAE estimate L_k, the first k draws"],
      ["logp", "log p(x) estimate, all " + K_LOGP + " draws"],
      ["gapElbo", "gap: log p(x) estimate \u2212 one-sample ELBO"],
      ["gapK", "gap: log p(x) estimate \u2212 L_k"]]);
    var summary = el("p", { class: "vae-demo-caption", "aria-live": "polite" }, out);
    var state = root.vaeDemo = { seed: 2, kMax: K_MAX, K: K_LOGP, k: 1, x: null, digit: null, mu: null, logvar: null, eps: null,
      logW: [], iwae: [], logp: null, done: false, elbo: null, reconLL: null, kl: null };
    var rand = mulberry32(state.seed), job = 0;
    function setDigit(x, description) {
      var q = model.encode(x);
      state.x = x; state.digit = description; state.mu = Array.from(q.mu); state.logvar = Array.from(q.logvar);
      paint(inputCanvas, x);
      newDraws();
    }
    function newDraws() {
      var x = state.x, mu = state.mu, logvar = state.logvar, mine = ++job;
      state.eps = drawEps(rand, K_LOGP, D);
      state.done = false; state.logp = null;
      var first = oneDraw(model, x, mu, logvar, state.eps[0]);
      state.elbo = first.elbo; state.reconLL = first.reconLL; state.kl = first.kl;
      state.logW = [];
      for (var s = 0; s < K_MAX; s++) state.logW.push(logWeight(model, x, mu, logvar, state.eps[s]));
      state.iwae = state.logW.map(function (w, i) { return logMeanExp(state.logW, i + 1); });
      render();
      (function more() {  // the remaining draws for log p(x), a chunk at a time, so the page stays responsive
        if (mine !== job) return;  // a newer digit or new draws took over
        for (var c = 0; c < CHUNK && state.logW.length < K_LOGP; c++) state.logW.push(logWeight(model, x, mu, logvar, state.eps[state.logW.length]));
        if (state.logW.length < K_LOGP) { render(); setTimeout(more, 0); return; }
        state.logp = logMeanExp(state.logW, K_LOGP);
        state.done = true;
        render();
      })();
    }
    function render() {
      var kk = state.k, Lk = state.iwae[kk - 1];
      kOut.textContent = String(kk);
      cells.elbo.textContent = signed(state.elbo, 2);
      cells.iwae.textContent = signed(Lk, 2) + " (k = " + kk + ")";
      if (state.done) {
        cells.logp.textContent = signed(state.logp, 2);
        cells.gapElbo.textContent = signed(state.logp - state.elbo, 2);
        cells.gapK.textContent = signed(state.logp - Lk, 2);
      } else {
        cells.logp.textContent = "computing: " + state.logW.length + " of " + K_LOGP + " draws";
        cells.gapElbo.textContent = cells.gapK.textContent = "\u2026";
      }
      drawChart();
      if (state.done) {
        summary.textContent = "For " + state.digit + ": one-sample ELBO " + signed(state.elbo, 2) + ", L_" + kk + " " + signed(Lk, 2) +
          ", log p(x) estimate " + signed(state.logp, 2) + " nats; the ELBO is " + (state.logp - state.elbo).toFixed(2) +
          " nats below the estimate, L_" + kk + " " + (state.logp - Lk).toFixed(2) + " nats below.";
      }
    }
    function drawChart() {
      var c = chart.getContext("2d"), W = chart.width, H = chart.height, left = 56, right = 12, top = 12, bottom = 30;
      var values = state.iwae.concat([state.elbo]).concat(state.done ? [state.logp] : []);
      var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values), pad = Math.max(0.5, 0.08 * (hi - lo));
      lo -= pad; hi += pad;
      function X(kk) { return left + (kk - 1) / (K_MAX - 1) * (W - left - right); }
      function Y(v) { return top + (hi - v) / (hi - lo) * (H - top - bottom); }
      c.fillStyle = "#fff"; c.fillRect(0, 0, W, H);
      c.strokeStyle = "#767676"; c.lineWidth = 1; c.beginPath(); c.moveTo(left, top); c.lineTo(left, H - bottom); c.lineTo(W - right, H - bottom); c.stroke();
      c.fillStyle = "#222"; c.font = "11px sans-serif"; c.textAlign = "right";
      [lo + pad, hi - pad].forEach(function (v) { c.fillText(signed(v, 1), left - 4, Y(v) + 4); });
      c.textAlign = "center";
      [1, 16, 32, 48, 64].forEach(function (kk) { c.fillText(String(kk), X(kk), H - bottom + 14); });
      c.fillText("k", W - right - 4, H - 4);
      function hline(v, colour, dash, text) {
        c.setLineDash(dash); c.strokeStyle = colour; c.lineWidth = 2;
        c.beginPath(); c.moveTo(left, Y(v)); c.lineTo(W - right, Y(v)); c.stroke(); c.setLineDash([]);
        c.fillStyle = colour; c.textAlign = "left"; c.fillText(text, left + 4, Y(v) - 4);
      }
      hline(state.elbo, "#6d4900", [6, 4], "one-sample ELBO");
      if (state.done) hline(state.logp, "#000", [], "log p(x) estimate, k = " + K_LOGP);
      c.strokeStyle = "#1a5fb4"; c.lineWidth = 2; c.beginPath();
      state.iwae.forEach(function (v, i) { if (i === 0) c.moveTo(X(1), Y(v)); else c.lineTo(X(i + 1), Y(v)); });
      c.stroke();
      var kk = state.k, Lk = state.iwae[kk - 1];
      if (state.done) {  // the gap at k, as a bracket
        c.strokeStyle = "#c01c28"; c.lineWidth = 2; c.beginPath(); c.moveTo(X(kk), Y(Lk)); c.lineTo(X(kk), Y(state.logp)); c.stroke();
      }
      c.beginPath(); c.arc(X(kk), Y(Lk), 5, 0, 2 * Math.PI); c.fillStyle = "#1a5fb4"; c.fill();
      chart.setAttribute("aria-label", "The IWAE estimate L_k for k = 1 to " + K_MAX + " with nested draws, rising from " + signed(state.iwae[0], 2) +
        " to " + signed(state.iwae[K_MAX - 1], 2) + " nats; the one-sample ELBO " + signed(state.elbo, 2) +
        (state.done ? "; the log p(x) estimate " + signed(state.logp, 2) : "") + "; marked: k = " + kk + ", L_k = " + signed(Lk, 2) + ".");
    }
    k.addEventListener("input", function () { state.k = parseInt(k.value, 10); render(); });
    again.addEventListener("click", newDraws);
    state.choose = input.choose; state.setDigit = setDigit; state.newDraws = newDraws;
    input.choose(0);
  }

  // ---- Demo 6: calc_elbo's source, each line with the value it computes ----------------

  /** "shape (1, 16): mean m, min a, max b", or the values themselves when there are few. */
  function describeTensor(values, shape) {
    var text = "shape (" + shape.join(", ") + (shape.length === 1 ? ",)" : ")");
    if (values.length <= 2) return text + ": " + vector(values);
    var s = 0, lo = Infinity, hi = -Infinity;
    for (var i = 0; i < values.length; i++) { s += values[i]; lo = Math.min(lo, values[i]); hi = Math.max(hi, values[i]); }
    return text + ": mean " + signed(s / values.length, 3) + ", min " + signed(lo, 2) + ", max " + signed(hi, 2);
  }

  function codeDemo(root, model) {
    var D = model.latentDim, source = model.spec.source.calc_elbo;
    var input = digitInput(root, model, setDigit);
    var out = el("div", { class: "vae-demo-code-output" }, root);
    var row = el("div", { class: "vae-demo-row" }, out);
    var inputCanvas = labelledImage(row, "x, the encoder's input");
    var reconCanvas = labelledImage(row, "sigmoid of model.decode(z)");
    var again = el("button", { type: "button", text: "Draw \u03b5 again" }, el("div", { class: "vae-demo-buttons" }, row));
    var fold = source.docstring, toggle = null;
    if (fold) {
      toggle = el("button", { type: "button", "aria-expanded": "false", text: "Show the docstring (lines " +
        (source.first_line + fold[0]) + "\u2013" + (source.first_line + fold[1]) + ")" }, el("div", { class: "vae-demo-buttons" }, out));
    }
    var scroller = el("div", { class: "vae-demo-code-scroll", tabindex: 0, role: "region",
      "aria-label": "The source of calc_elbo with each line's value (scrolls sideways)" }, out);
    var table = el("table", { class: "vae-demo-code" }, scroller);
    el("caption", { text: source.module + "." + source.name + ", as the package has it (from line " + source.first_line +
      " of its module), run on the digit with n_samples = 1; under each line that computes a value, the value now" }, table);
    var head = el("tr", {}, el("thead", {}, table));
    el("th", { scope: "col", text: "line" }, head); el("th", { scope: "col", text: "code and value" }, head);
    var body = el("tbody", {}, table), valueCells = {}, folded = [];
    var names = {};
    source.bindings.forEach(function (b) { names[b.line] = b.names; });
    source.lines.forEach(function (line, i) {
      var tr = el("tr", { class: names[i] ? "vae-demo-code-live" : "" }, body);
      el("td", { class: "vae-demo-code-number", text: String(source.first_line + i) }, tr);
      var cell = el("td", {}, tr);
      el("code", { text: line }, cell);
      if (names[i]) valueCells[i] = el("div", { class: "vae-demo-code-value", text: "" }, cell);
      if (fold && i >= fold[0] && i <= fold[1]) { tr.hidden = true; folded.push(tr); }
    });
    if (toggle) toggle.addEventListener("click", function () {
      var show = toggle.getAttribute("aria-expanded") !== "true";
      folded.forEach(function (tr) { tr.hidden = !show; });
      toggle.setAttribute("aria-expanded", String(show));
      toggle.textContent = (show ? "Hide" : "Show") + toggle.textContent.slice(4);
    });
    var summary = el("p", { class: "vae-demo-caption", "aria-live": "polite" }, out);
    var state = root.vaeDemo = { seed: 3, x: null, digit: null, mu: null, logvar: null, eps: null, z: null, reconLL: null, kl: null,
      elbo: null, values: {}, lines: {} };
    var rand = mulberry32(state.seed);
    function setDigit(x, description) {
      var q = model.encode(x);
      state.x = x; state.digit = description; state.mu = Array.from(q.mu); state.logvar = Array.from(q.logvar);
      paint(inputCanvas, x);
      drawAgain();
    }
    function drawAgain() {
      state.eps = drawEps(rand, 1, D)[0];
      var r = oneDraw(model, state.x, state.mu, state.logvar, state.eps);
      state.z = r.z; state.reconLL = r.reconLL; state.kl = r.kl; state.elbo = r.elbo;
      paint(reconCanvas, sigmoid(r.logits));
      var v = {  // what each name of calc_elbo holds now, as the page computed it
        model: "VAE " + model.name + " (latent_dim " + D + ")",
        x: describeTensor(state.x, [1, 1, 28, 28]),
        n_samples: "1",
        generator: "None (the page draws \u03b5 from its own seeded generator: seed " + state.seed + ")",
        mu: describeTensor(state.mu, [1, D]),
        logvar: describeTensor(state.logvar, [1, D]),
        z: describeTensor(state.z, [1, 1, D]),
        recon_ll: describeTensor([state.reconLL], [1]),
        kl: describeTensor([state.kl], [1]),
        "return": "ELBO(elbo=[" + signed(state.elbo, 2) + "], recon_ll=[" + signed(state.reconLL, 2) + "], kl=[" + signed(state.kl, 2) + "])"
      };
      state.values = v; state.lines = {};
      Object.keys(valueCells).forEach(function (i) {
        var text = names[i].map(function (name) { return (name === "return" ? "returns " : name + " = ") + (name in v ? v[name] : "(not computed by the page)"); }).join("; ");
        valueCells[i].textContent = "\u2192 " + text;
        state.lines[i] = text;
      });
      summary.textContent = "calc_elbo on " + state.digit + ": ELBO " + signed(state.elbo, 2) + " nats = recon_ll " + signed(state.reconLL, 2) +
        " \u2212 kl " + state.kl.toFixed(2) + ".";
    }
    again.addEventListener("click", drawAgain);
    state.choose = input.choose; state.setDigit = setDigit; state.drawAgain = drawAgain;
    input.choose(0);
  }

  // ---- Start every demo on the page ------------------------------------------------

  var models = (window.vaeWeb && window.vaeWeb.models) || {};
  function model(name) {
    if (!models[name] || models[name].spec !== window.vaeModels[name]) {
      var spec = (window.vaeModels || {})[name];
      if (!spec) throw new Error("no weights for the model " + name + " (its _static/vae-web/" + name + ".js did not load)");
      models[name] = new VaeModel(spec);
    }
    return models[name];
  }

  var DEMOS = { explorer: explorer, map: latentMap, draw: drawDigit, posterior: posteriorDemo, iwae: iwaeDemo, code: codeDemo };

  function start() {  // every demo on the page not started yet (a notebook adds them one by one)
    var roots = document.querySelectorAll(".vae-demo[data-vae-model][data-vae-demo]:not([data-vae-ready])");
    Array.prototype.forEach.call(roots, function (root, i) {
      if (!root.id) root.id = "vae-demo-" + i;  // demo() in a notebook gives each its own id
      root.textContent = "";
      root.classList.add("vae-demo-" + root.dataset.vaeDemo);
      DEMOS[root.dataset.vaeDemo](root, model(root.dataset.vaeModel));
      root.dataset.vaeReady = "true";
    });
  }

  window.vaeWeb = { models: models, model: model, mnistPreprocess: mnistPreprocess, elbo: elbo, mulberry32: mulberry32, drawEps: drawEps, logMeanExp: logMeanExp, layers: { linear: linear, conv2d: conv2d, convTranspose2d: convTranspose2d } };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
