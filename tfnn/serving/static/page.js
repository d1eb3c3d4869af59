/*
 * The page of tfnn serve: a drawing pad (pointer events: mouse, pen,
 * touch), the ten class probabilities, the 28x28 image sent, the model in
 * use and its card. It speaks the REST API any client uses:
 *
 *   GET  v1/models                          the models served
 *   GET  v1/models/{name}                   their versions (TF Serving)
 *   GET  v1/models/{name}/versions/{v}/card the model card (tfnn)
 *   POST v1/models/{name}/versions/{v}:predict
 *        {"instances": [28 rows of 28 grey levels 0..255]}
 *
 * The drawing is made into an MNIST digit by drawing.js. #prediction
 * carries data-class (the class shown, "" for none), data-strokes (the
 * strokes the shown answer is for) and data-pending (requests in flight).
 */
(function () {
  "use strict";

  var PEN_WIDTH = 18;  // px on the 280x280 pad: ~2 px in MNIST's 20 box
  var SIZE = 280;
  var PREDICT_DELAY_MS = 80;

  var pad = document.getElementById("pad");
  var ctx = pad.getContext("2d", {willReadFrequently: true});
  var sent = document.getElementById("sent").getContext("2d");
  var prediction = document.getElementById("prediction");
  var confidence = document.getElementById("confidence");
  var statusLine = document.getElementById("status");
  var modelSelect = document.getElementById("model-select");
  var versionSelect = document.getElementById("version-select");
  var inUse = document.getElementById("model-in-use");

  var strokes = [];  // each a list of [x, y] in pad pixels
  var current = null;
  var timer = null;
  var sequence = 0;  // the latest request; older answers are dropped
  var pending = 0;
  var bars = makeBars();

  function makeBars() {
    var box = document.getElementById("bars"), rows = [];
    for (var d = 0; d < 10; d++) {
      var digit = document.createElement("span");
      var track = document.createElement("span");
      var fill = document.createElement("span");
      var value = document.createElement("span");
      digit.className = "digit";
      digit.textContent = String(d);
      track.className = "track";
      fill.className = "fill";
      value.className = "value";
      value.id = "p" + d;
      track.appendChild(fill);
      box.appendChild(digit);
      box.appendChild(track);
      box.appendChild(value);
      rows.push({digit: digit, track: track, fill: fill, value: value});
    }
    return rows;
  }

  function api(path, init) {
    return fetch(path, init).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok || body.error) {
          throw new Error(body.error || ("HTTP " + response.status));
        }
        return body;
      });
    });
  }

  // -- drawing ----------------------------------------------------------

  // A stroke is painted segment by segment, as it is drawn, both while
  // drawing and when repainting after Undo: the same pixels either way.
  function paintDot(point) {
    ctx.beginPath();
    ctx.arc(point[0], point[1], PEN_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function paintSegment(a, b) {
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  }

  function paintStroke(points) {
    paintDot(points[0]);
    for (var i = 1; i < points.length; i++) {
      paintSegment(points[i - 1], points[i]);
    }
  }

  function repaint() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.fillStyle = "#fff";
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = PEN_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    strokes.forEach(paintStroke);
    if (current) paintStroke(current);
  }

  function padPoint(event) {
    var rect = pad.getBoundingClientRect();
    return [(event.clientX - rect.left) * SIZE / rect.width,
            (event.clientY - rect.top) * SIZE / rect.height];
  }

  pad.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    current = [padPoint(event)];
    paintDot(current[0]);
  });
  pad.addEventListener("pointermove", function (event) {
    if (!current) return;
    event.preventDefault();
    var point = padPoint(event);
    paintSegment(current[current.length - 1], point);
    current.push(point);
  });
  function endStroke() {
    if (!current) return;
    strokes.push(current);
    current = null;
    schedulePredict();
  }
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  document.getElementById("undo").addEventListener("click", function () {
    strokes.pop();
    repaint();
    schedulePredict();
  });
  document.getElementById("clear").addEventListener("click", function () {
    strokes = [];
    repaint();
    schedulePredict();
  });

  // -- the image sent -----------------------------------------------------

  function padInk() {
    var rgba = ctx.getImageData(0, 0, SIZE, SIZE).data;
    var ink = new Float64Array(SIZE * SIZE);
    for (var p = 0; p < ink.length; p++) {
      ink[p] = (rgba[4 * p] + rgba[4 * p + 1] + rgba[4 * p + 2]) / 3;
    }
    return ink;
  }

  function showSent(pixels) {
    var image = sent.createImageData(28, 28);
    for (var p = 0; p < 784; p++) {
      var v = pixels ? pixels[p] : 0;
      image.data[4 * p] = image.data[4 * p + 1] = image.data[4 * p + 2] = v;
      image.data[4 * p + 3] = 255;
    }
    sent.putImageData(image, 0, 0);
  }

  function rows(pixels) {
    var out = [];
    for (var r = 0; r < 28; r++) {
      out.push(Array.prototype.slice.call(pixels, 28 * r, 28 * r + 28));
    }
    return out;
  }

  // -- predicting ---------------------------------------------------------

  function showProbabilities(probabilities, best) {
    bars.forEach(function (bar, d) {
      var p = probabilities ? probabilities[d] : 0;
      bar.fill.style.width = (100 * p).toFixed(1) + "%";
      bar.value.textContent = probabilities ? (100 * p).toFixed(1) + " %" : "";
      bar.digit.classList.toggle("best", d === best);
      bar.track.classList.toggle("best", d === best);
    });
  }

  function showAnswer(cls, probabilities, count) {
    prediction.textContent = cls === null ? "–" : String(cls);
    prediction.dataset.class = cls === null ? "" : String(cls);
    prediction.dataset.strokes = String(count);
    confidence.textContent = cls === null ? "" :
      (100 * probabilities[cls]).toFixed(1) + " %";
    showProbabilities(probabilities, cls);
  }

  function schedulePredict() {
    clearTimeout(timer);
    sequence += 1;
    pending += 1;
    prediction.dataset.pending = String(pending);
    timer = setTimeout(predict, PREDICT_DELAY_MS, sequence, strokes.length);
  }

  function settle() {
    pending = 0;
    prediction.dataset.pending = "0";
  }

  function predict(seq, count) {
    var digit = tfnnDrawing.mnistStyle(padInk(), SIZE, SIZE);
    showSent(digit && digit.pixels);
    if (!digit || !inUse.dataset.version) {
      if (seq === sequence) {
        showAnswer(null, null, count);
        settle();
      }
      return;
    }
    var url = "v1/models/" + encodeURIComponent(inUse.dataset.name) +
      "/versions/" + inUse.dataset.version + ":predict";
    api(url, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({instances: [rows(digit.pixels)]})
    }).then(function (body) {
      if (seq !== sequence) return;
      var answer = body.predictions[0];
      statusLine.textContent = "";
      showAnswer(Number(answer.classes), answer.probabilities, count);
      settle();
    }, function (err) {
      if (seq !== sequence) return;
      statusLine.textContent = "predict failed: " + err.message;
      showAnswer(null, null, count);
      settle();
    });
  }

  // -- models, versions, card -----------------------------------------------

  function option(select, value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function percent(x) {
    return (100 * x).toFixed(2) + " %";
  }

  function cardRows(card) {
    var accuracy = card.test_accuracy === null ? null :
      percent(card.test_accuracy) + (card.test_examples ?
        " (" + card.test_correct + " / " + card.test_examples + " " +
        (card.dataset || "") + " test images)" : "");
    return [
      ["Model", card.name + ", version " + card.version],
      ["Test accuracy", accuracy],
      ["Architecture", card.architecture],
      ["Preprocessing", card.preprocessing],
      ["Input", card.input],
      ["Training", card.training],
      ["Trained with", card.train_command, true],
      ["Exported", card.created],
      ["Exported with", card.export_command, true],
      ["Software", card.software]
    ];
  }

  function showCard(card) {
    var dl = document.getElementById("card");
    dl.textContent = "";
    cardRows(card).forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === "") return;
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = row[0];
      if (row[2]) {
        var code = document.createElement("code");
        code.textContent = row[1];
        dd.appendChild(code);
      } else {
        dd.textContent = row[1];
      }
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
  }

  function useVersion() {
    var name = modelSelect.value, version = versionSelect.value;
    inUse.dataset.name = name;
    inUse.dataset.version = version;
    inUse.textContent = version ? "in use: " + name + " v" + version :
      "no version of " + name + " is available";
    if (!version) return Promise.resolve();
    return api("v1/models/" + encodeURIComponent(name) + "/versions/" +
               version + "/card").then(showCard).then(schedulePredict);
  }

  var followNewest = true;  // until a version is chosen by hand

  function availableVersions(body) {
    return body.model_version_status.filter(function (row) {
      return row.state === "AVAILABLE";
    }).map(function (row) { return Number(row.version); })
      .sort(function (a, b) { return b - a; });
  }

  function loadVersions() {
    var name = modelSelect.value;
    return api("v1/models/" + encodeURIComponent(name)).then(function (body) {
      var versions = availableVersions(body), keep = versionSelect.value;
      var shown = Array.prototype.map.call(versionSelect.options,
        function (o) { return Number(o.value); });
      if (versions.join() === shown.join() && inUse.dataset.name === name) {
        return null;
      }
      versionSelect.textContent = "";
      versions.forEach(function (v, i) {
        option(versionSelect, String(v), v + (i === 0 ? " (newest)" : ""));
      });
      if (!followNewest && versions.indexOf(Number(keep)) >= 0) {
        versionSelect.value = keep;
      }
      return versionSelect.value === inUse.dataset.version &&
        inUse.dataset.name === name ? null : useVersion();
    });
  }

  function loadModels() {
    return api("v1/models").then(function (body) {
      body.models.forEach(function (m) { option(modelSelect, m.name, m.name); });
      return loadVersions();
    });
  }

  function fail(err) {
    statusLine.textContent = "server: " + err.message;
  }

  modelSelect.addEventListener("change", function () {
    versionSelect.textContent = "";
    followNewest = true;
    loadVersions().catch(fail);
  });
  versionSelect.addEventListener("change", function () {
    followNewest = versionSelect.selectedIndex === 0;
    useVersion().catch(fail);
  });
  // A version dropped into the model folder shows up within 15 s.
  setInterval(function () {
    if (modelSelect.value) loadVersions().catch(fail);
  }, 15000);

  repaint();
  showSent(null);
  showProbabilities(null, null);
  loadModels().catch(fail);
})();
