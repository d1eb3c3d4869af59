"""tfnn.data.drawing: a drawing made into an MNIST digit (LeCun et al.'s
20×20 box, center of mass at (14, 14)), its JavaScript twin
(tfnn/serving/static/drawing.js, run with node) and ``tfnn predict``'s
reading of large pictures.
"""

import base64
import json
import logging
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageDraw

from tfnn.data import drawing
from tfnn.serving.client import load_images
from tfnn.shipping.versions import resolve_version_dir

logger = logging.getLogger(__name__)

REPO = pathlib.Path(__file__).resolve().parents[1]
DRAWING_JS = REPO / "tfnn" / "serving" / "static" / "drawing.js"
MODEL_BASE = REPO / "saved_models" / "mnist"
CANVAS = 280


def _ink_box(image):
    """(rows, cols) spanned by nonzero pixels."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _strokes(rng, size=CANVAS):
    """A random anti-aliased pen drawing: polylines drawn at 4× and
    area-averaged down (PIL's BOX filter)."""
    big = Image.new("L", (4 * size, 4 * size), 0)
    pen = ImageDraw.Draw(big)
    for _ in range(rng.integers(1, 4)):
        points = [tuple(int(v) for v in rng.integers(40, 4 * size - 40, 2))
                  for _ in range(rng.integers(2, 6))]
        width = int(rng.integers(40, 100))
        pen.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # round caps
            pen.ellipse((x - width // 2, y - width // 2, x + width // 2,
                         y + width // 2), fill=255)
    return np.asarray(big.resize((size, size), Image.BOX), dtype=np.uint8)


def redraw(digit, rng, canvas=CANVAS, scale=(4.0, 13.0)):
    """An MNIST digit re-drawn on a ``canvas``² pad: its ink box upscaled
    (bilinear) by a random factor in ``scale`` and put at a random place."""
    r0, r1, c0, c1 = drawing.bounding_box(digit, threshold=1)
    crop = Image.fromarray(np.ascontiguousarray(digit[r0:r1, c0:c1]))
    f = rng.uniform(*scale)
    h = min(canvas, max(1, round(crop.height * f)))
    w = min(canvas, max(1, round(crop.width * f)))
    big = np.asarray(crop.resize((w, h), Image.BILINEAR))
    out = np.zeros((canvas, canvas), np.uint8)
    y, x = rng.integers(0, canvas - h + 1), rng.integers(0, canvas - w + 1)
    out[y:y + h, x:x + w] = big
    return out


# --------------------------------------------------------------------------
# The steps, against their formulas
# --------------------------------------------------------------------------


def test_area_weights_average_the_covered_area():
    w = drawing.area_weights(4, 2)  # s = 2: pairs of pixels
    np.testing.assert_allclose(w, [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    w = drawing.area_weights(3, 2)  # s = 1.5: [0, 1.5], [1.5, 3]
    np.testing.assert_allclose(w, [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]])
    for n_in, n_out in ((280, 20), (7, 20), (21, 20), (1, 20)):
        np.testing.assert_allclose(
            drawing.area_weights(n_in, n_out).sum(axis=1), 1.0)
    image = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(drawing.area_resize(image, (2, 2)),
                               [[2.5, 4.5], [10.5, 12.5]])


def test_bounding_box_fits_20_by_20_keeping_the_aspect_ratio():
    for h, w, expected in ((200, 100, (20, 10)), (50, 150, (7, 20)),
                           (90, 90, (20, 20)), (6, 3, (20, 10)),
                           (1, 200, (1, 20))):
        ink = np.zeros((CANVAS, CANVAS))
        ink[30:30 + h, 40:40 + w] = 255
        assert drawing.bounding_box(ink) == (30, 30 + h, 40, 40 + w)
        assert drawing.box_size(h, w) == expected
        digit = drawing.mnist_style(ink)
        assert _ink_box(digit) == expected
        # A uniform rectangle stays uniform: area averaging keeps levels.
        assert set(np.unique(digit)) == {0, 255}
        nh, nw = expected
        assert abs(nh / nw - h / w) <= 0.5 * max(h / w, 1) / min(nh, nw)


def test_anti_aliasing_gives_grey_edges_that_keep_the_mass():
    ink = np.zeros((CANVAS, CANVAS))
    ink[0:21, 0:210] = 255  # a T in a 210² box (s = 10.5): the bar,
    ink[0:210, 88:123] = 255  # the stem, 35 / 10.5 = 3.33 pixels wide
    digit = drawing.area_resize(ink[:210, :210], (20, 20))
    # Column 8 covers [84, 94.5]: 6.5 of its 10.5 are ink; column 11
    # covers [115.5, 126]: 7.5 of 10.5.
    np.testing.assert_allclose(digit[10, 7:13], np.array(
        [0, 6.5 / 10.5, 1, 1, 7.5 / 10.5, 0]) * 255)
    np.testing.assert_allclose(digit.sum(), ink.sum() / 10.5**2)
    field = drawing.fit_and_center(ink)
    np.testing.assert_allclose(field.sum(), digit.sum())  # all inside
    assert _ink_box(field) == (20, 20)


def test_center_of_mass_lands_on_14_14_within_half_a_pixel():
    rng = np.random.default_rng(0)
    for _ in range(50):
        ink = _strokes(rng)
        field = drawing.fit_and_center(ink)
        cy, cx = drawing.center_of_mass(field)
        assert abs(cy - 14) <= 0.5 + 1e-9 and abs(cx - 14) <= 0.5 + 1e-9
        cy, cx = drawing.center_of_mass(drawing.mnist_style(ink))
        assert abs(cy - 14) <= 0.52 and abs(cx - 14) <= 0.52
    # Where the whole digit goes does not matter: one shape, two places.
    ink = _strokes(np.random.default_rng(1), size=140)
    a, b = np.zeros((CANVAS, CANVAS)), np.zeros((CANVAS, CANVAS))
    a[:140, :140], b[137:277, 90:230] = ink, ink
    np.testing.assert_array_equal(drawing.mnist_style(a),
                                  drawing.mnist_style(b))


def test_center_offset_rounds_half_up():
    assert drawing.center_offset(9.5) == 5  # 14 - 9.5 = 4.5 → 5
    assert drawing.center_offset(9.5 + 1e-12) == 5  # float noise: same
    assert drawing.center_offset(9.49) == 5 and drawing.center_offset(9.51) == 4


def test_ink_pushed_off_the_field_is_lost_as_in_mnist():
    ink = np.zeros((200, 200))
    ink[:30, :30] = 255  # heavy corner: its mass pulls the box far off
    ink[:, 0:2] = ink[0:2, :] = 255
    field = drawing.fit_and_center(ink)
    assert field.sum() < drawing.area_resize(ink, (20, 20)).sum()
    assert field[-1].any() and field[:, -1].any()  # clipped at the border


def test_an_empty_drawing_is_a_clear_error():
    for ink in (np.zeros((CANVAS, CANVAS)), np.full((50, 50), 127.0)):
        with pytest.raises(ValueError, match="empty drawing"):
            drawing.mnist_style(ink)
    with pytest.raises(ValueError, match="2-D"):
        drawing.mnist_style(np.zeros((2, 28, 28)))


def test_to_ink_inverts_paper_and_keeps_clean_drawings():
    ink = _strokes(np.random.default_rng(2))
    np.testing.assert_array_equal(drawing.to_ink(ink), ink)
    paper = 230 - ink.astype(float) * 200 / 255  # grey pencil on paper
    np.testing.assert_allclose(drawing.to_ink(paper), ink, atol=1e-9)
    assert not drawing.to_ink(np.full((9, 9), 200)).any()


# --------------------------------------------------------------------------
# JavaScript and Python agree
# --------------------------------------------------------------------------

NODE_RUNNER = """
const d = require(process.argv[1]);
let text = "";
process.stdin.on("data", c => text += c).on("end", () => {
  const out = JSON.parse(text).map(im => {
    const ink = Float64Array.from(Buffer.from(im.data, "base64"));
    const r = d.mnistStyle(ink, im.height, im.width);
    return r && {pixels: Buffer.from(r.pixels).toString("base64"),
                 offset: r.offset};
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def run_js(images, timeout=120):
    """drawing.js's ``mnistStyle`` on uint8 images, in node."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not found: drawing.js is checked against Python "
                    "in the browser test (tests/test_page.py) instead")
    payload = json.dumps([
        {"height": im.shape[0], "width": im.shape[1],
         "data": base64.b64encode(np.ascontiguousarray(im, np.uint8)
                                  .tobytes()).decode()}
        for im in images])
    done = subprocess.run([node, "-e", NODE_RUNNER, str(DRAWING_JS)],
                          input=payload, capture_output=True, text=True,
                          timeout=timeout, check=True)
    return [None if r is None else np.frombuffer(
        base64.b64decode(r["pixels"]), np.uint8).reshape(28, 28)
        for r in json.loads(done.stdout)]


def _edge_cases():
    dot = np.zeros((CANVAS, CANVAS), np.uint8)
    dot[100, 200] = 255
    line = np.zeros((CANVAS, CANVAS), np.uint8)
    line[140, 10:270] = 200
    tall = np.zeros((300, 200), np.uint8)  # not square, a thin column
    tall[5:295, 199] = 255
    tie = np.zeros((CANVAS, CANVAS), np.uint8)
    tie[50:52, 60:62] = 255  # center of mass exactly on x.5
    corner = np.zeros((200, 200), np.uint8)
    corner[:30, :30] = 255
    corner[:, :2] = corner[:2, :] = 255
    small = np.zeros((28, 28), np.uint8)
    small[10:13, 12:14] = 180
    return [dot, line, tall, tie, corner, small]


def test_javascript_and_python_agree_within_one_grey_level(
        mnist_manual_dir, mnist_raw):
    rng = np.random.default_rng(0)
    (_, _), (x_test, _) = mnist_raw
    images = (_edge_cases() + [_strokes(rng) for _ in range(30)]
              + [redraw(x_test[i], rng) for i in range(30)]
              + [np.zeros((CANVAS, CANVAS), np.uint8)])
    js = run_js(images)
    worst = 0
    for image, from_js in zip(images[:-1], js[:-1]):
        from_py = drawing.mnist_style(image).astype(int)
        assert from_js is not None
        worst = max(worst, int(np.abs(from_py - from_js).max()))
    assert js[-1] is None  # empty: null in JS, ValueError in Python
    logger.info("JS vs Python: max difference %d grey levels over %d "
                "drawings", worst, len(images) - 1)
    assert worst <= 1


# --------------------------------------------------------------------------
# tfnn predict's pictures
# --------------------------------------------------------------------------


def test_load_images_preprocesses_large_pictures_only(tmp_path):
    rng = np.random.default_rng(3)
    ink = _strokes(rng)
    Image.fromarray(ink).save(tmp_path / "drawing.png")
    paper = (255 - ink).astype(np.uint8)  # dark digit on white paper
    Image.fromarray(paper).convert("RGB").save(tmp_path / "photo.png")
    small = rng.integers(0, 256, (28, 28)).astype(np.uint8)
    Image.fromarray(small).save(tmp_path / "digit.png")
    images, labels = load_images([str(tmp_path / n) for n in
                                  ("drawing.png", "photo.png", "digit.png")])
    assert images.shape == (3, 28, 28) and images.dtype == np.float32
    expected = drawing.mnist_style(ink)
    np.testing.assert_array_equal(images[0], expected)
    np.testing.assert_array_equal(images[1], expected)
    np.testing.assert_array_equal(images[2], small)  # 28×28: as it is
    Image.fromarray(np.zeros((280, 280), np.uint8)).save(tmp_path / "e.png")
    with pytest.raises(ValueError, match="empty drawing"):
        load_images([str(tmp_path / "e.png")])


# --------------------------------------------------------------------------
# The model reads re-drawn digits
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_redrawn_test_digits_keep_the_accuracy(mnist_manual_dir, mnist_raw):
    (_, _), (x_test, y_test) = mnist_raw
    rng = np.random.default_rng(0)
    picks = rng.choice(len(x_test), 1000, replace=False)
    pads = [redraw(x_test[i], rng) for i in picks]
    offsets = [np.argwhere(p >= 128).mean(axis=0) for p in pads]
    assert np.ptp(np.array(offsets), axis=0).min() > 100  # really moved
    x = np.stack([drawing.mnist_style(p) for p in pads]).astype(np.float32)
    path = resolve_version_dir(MODEL_BASE)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    classes = serve(images=tf.constant(x))["classes"].numpy()
    accuracy = float(np.mean(classes == y_test[picks]))
    logger.info("re-drawn 1,000 test digits, %s: accuracy %.3f", path,
                accuracy)
    assert accuracy >= 0.97
