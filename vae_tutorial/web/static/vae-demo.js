/* The book's VAEs in the reader's browser: the decoder and encoder of a shipped model, run
 * by plain JavaScript, and three demos that use them.
 *
 * Holds the layers these models use (Linear, Conv2d, ConvTranspose2d, ReLU, sigmoid) on
 * Float32Arrays in (C, H, W) order, `VaeModel` (encode: x -> mu, logvar; decode: z -> pixel
 * probabilities), MNIST's preprocessing of a drawn digit, the Bernoulli ELBO, and the demos:
 *   data-vae-demo="explorer"  one slider per latent dimension, all driving one image;
 *   data-vae-demo="map"       a 2-D model's latent map, decoding the point under the pointer;
 *   data-vae-demo="draw"      a canvas to draw on; the encoder's q(z|x), reconstruction, ELBO.
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

  var DEMOS = { explorer: explorer, map: latentMap, draw: drawDigit };

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

  window.vaeWeb = { models: models, model: model, mnistPreprocess: mnistPreprocess, elbo: elbo, layers: { linear: linear, conv2d: conv2d, convTranspose2d: convTranspose2d } };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
