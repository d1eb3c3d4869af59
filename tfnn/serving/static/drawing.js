/*
 * A drawing made into an MNIST digit, the way the MNIST digits were made
 * (LeCun, Cortes and Burges: the bilevel digit "size normalized to fit in
 * a 20x20 pixel box while preserving their aspect ratio", anti-aliased,
 * then "centered in a 28x28 image by computing the center of mass").
 *
 * The same steps as tfnn/data/drawing.py (its docstring derives them); the
 * two agree within one grey level (tests/test_drawing.py runs this file
 * with node):
 *
 *   box:     rows and columns holding ink >= 128
 *   size:    m = max(h, w); nh = floor(20*h/m + 1/2), nw likewise (>= 1)
 *   resize:  area averaging, R[i][k] = |[i*s, (i+1)*s] ∩ [k, k+1]| / s
 *   center:  offset = floor(14 - com + 1/2 + 1e-7), com in index coords
 *   round:   floor(v + 1/2), clipped to 0..255
 *
 * Works in the page (window.tfnnDrawing) and in node (module.exports).
 */
(function (root) {
  "use strict";

  var FIELD = 28;
  var BOX = 20;
  var CENTRE = 14.0;
  var INK_THRESHOLD = 128;
  var TIE_BREAK = 1e-7;

  /* [r0, r1, c0, c1] (half-open) of pixels >= threshold, or null. */
  function boundingBox(ink, height, width, threshold) {
    var r0 = height, r1 = -1, c0 = width, c1 = -1;
    for (var r = 0; r < height; r++) {
      for (var c = 0; c < width; c++) {
        if (ink[r * width + c] >= threshold) {
          if (r < r0) r0 = r;
          if (r > r1) r1 = r;
          if (c < c0) c0 = c;
          if (c > c1) c1 = c;
        }
      }
    }
    return r1 < 0 ? null : [r0, r1 + 1, c0, c1 + 1];
  }

  function boxSize(height, width) {
    var m = Math.max(height, width);
    return [Math.max(1, Math.floor(BOX * height / m + 0.5)),
            Math.max(1, Math.floor(BOX * width / m + 0.5))];
  }

  /* The (nOut, nIn) area-averaging weights, rows summing to 1. */
  function areaWeights(nIn, nOut) {
    var s = nIn / nOut, w = [];
    for (var i = 0; i < nOut; i++) {
      var row = new Float64Array(nIn), lo = i * s;
      for (var k = 0; k < nIn; k++) {
        var overlap = Math.min(lo + s, k + 1) - Math.max(lo, k);
        row[k] = overlap > 0 ? overlap / s : 0;
      }
      w.push(row);
    }
    return w;
  }

  /* crop (h x w, row-major) -> (nh x nw): Ry @ crop @ Rx^T. */
  function areaResize(crop, h, w, nh, nw) {
    var ry = areaWeights(h, nh), rx = areaWeights(w, nw);
    var tmp = new Float64Array(nh * w), out = new Float64Array(nh * nw);
    for (var i = 0; i < nh; i++) {
      for (var k = 0; k < h; k++) {
        var a = ry[i][k];
        if (a === 0) continue;
        for (var c = 0; c < w; c++) tmp[i * w + c] += a * crop[k * w + c];
      }
    }
    for (i = 0; i < nh; i++) {
      for (var j = 0; j < nw; j++) {
        var sum = 0;
        for (c = 0; c < w; c++) sum += tmp[i * w + c] * rx[j][c];
        out[i * nw + j] = sum;
      }
    }
    return out;
  }

  function centerOffset(com) {
    return Math.floor(CENTRE - com + 0.5 + TIE_BREAK);
  }

  /* The 20-box digit's center of mass [cy, cx], index coordinates. */
  function centerOfMass(digit, nh, nw) {
    var total = 0, sy = 0, sx = 0;
    for (var i = 0; i < nh; i++) {
      for (var j = 0; j < nw; j++) {
        var v = digit[i * nw + j];
        total += v;
        sy += v * i;
        sx += v * j;
      }
    }
    return [sy / total, sx / total];
  }

  /*
   * ink: grey levels 0..255, ink bright, row-major (height x width).
   * Returns {pixels: Uint8Array(784), field: Float64Array(784)} or null
   * for an empty drawing.
   */
  function mnistStyle(ink, height, width, threshold) {
    if (threshold === undefined) threshold = INK_THRESHOLD;
    var box = boundingBox(ink, height, width, threshold);
    if (box === null) return null;
    var h = box[1] - box[0], w = box[3] - box[2];
    var crop = new Float64Array(h * w);
    for (var r = 0; r < h; r++) {
      for (var c = 0; c < w; c++) {
        crop[r * w + c] = ink[(r + box[0]) * width + c + box[2]];
      }
    }
    var size = boxSize(h, w), nh = size[0], nw = size[1];
    var digit = areaResize(crop, h, w, nh, nw);
    var com = centerOfMass(digit, nh, nw);
    var oy = centerOffset(com[0]), ox = centerOffset(com[1]);
    var field = new Float64Array(FIELD * FIELD);
    var pixels = new Uint8Array(FIELD * FIELD);
    for (var i = 0; i < nh; i++) {
      for (var j = 0; j < nw; j++) {
        var y = i + oy, x = j + ox;
        if (y < 0 || y >= FIELD || x < 0 || x >= FIELD) continue;
        field[y * FIELD + x] = digit[i * nw + j];
      }
    }
    for (var p = 0; p < FIELD * FIELD; p++) {
      pixels[p] = Math.min(255, Math.max(0, Math.floor(field[p] + 0.5)));
    }
    return {pixels: pixels, field: field, box: box, offset: [oy, ox]};
  }

  var api = {
    FIELD: FIELD,
    BOX: BOX,
    INK_THRESHOLD: INK_THRESHOLD,
    boundingBox: boundingBox,
    boxSize: boxSize,
    areaWeights: areaWeights,
    mnistStyle: mnistStyle
  };
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.tfnnDrawing = api;
  }
})(this);
