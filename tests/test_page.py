"""The page of ``tfnn serve`` (``GET /``): its HTTP side (Content-Security-
Policy, static files, the model list and the model card) over real HTTP,
then the page itself in a real browser: Debian's Chromium driven by
Playwright's driver, against ``tfnn serve`` in its own process.

The browser tests draw MNIST test digits with the mouse the way a person
would, stroke by stroke (each row's dark pixels one stroke at 10× scale),
read the class the page shows, and check the phone layout, Undo and Clear,
the version chooser and that the console stays clean (a CSP violation is
a console error). They skip, saying so, where no Chromium or no Playwright
is installed (``.ci/run`` installs both: ``apt-get install chromium`` and
the ``test`` extra).
"""

import configparser
import glob
import html.parser
import json
import logging
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import zipfile

import httpx
import numpy as np
import pytest

from tfnn import serving
from tfnn.data import drawing
from tfnn.serving.card import model_card
from tfnn.serving.page import CONTENT_SECURITY_POLICY, STATIC_DIR
from tfnn.serving.process import ServeProcess

logger = logging.getLogger(__name__)

REPO = pathlib.Path(__file__).resolve().parents[1]
MODEL_BASE = REPO / "saved_models" / "mnist"
SCREENSHOT = REPO / "docs" / "figures" / "serve_page.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu",
                 "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
WAIT_MS = 30_000  # every wait in the browser is bounded by this
LAUNCH_MS = 90_000  # Chromium's start (slow on a loaded 2-core machine)
STATIC_FILES = ("index.html", "page.css", "page.js", "drawing.js")


@pytest.fixture(scope="module")
def server():
    """The committed model served in this process (uvicorn thread)."""
    app = serving.create_app(MODEL_BASE, poll_interval=0)
    with serving.BackgroundServer(app) as running:
        yield running


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


# --------------------------------------------------------------------------
# Over HTTP
# --------------------------------------------------------------------------


def test_page_and_its_files_carry_the_content_security_policy(client):
    for directive in ("default-src 'self'", "script-src 'self'",
                      "style-src 'self'", "connect-src 'self'",
                      "object-src 'none'", "base-uri 'none'",
                      "frame-ancestors 'none'"):
        assert directive in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "http" not in CONTENT_SECURITY_POLICY  # no other origin
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="pad"' in page.text
    for response, kind in [(page, "text/html")] + [
            (client.get(f"/static/{name}"), kind) for name, kind in (
                ("page.css", "text/css"), ("page.js", "text/javascript"),
                ("drawing.js", "text/javascript"))]:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(kind)
        assert response.headers["content-security-policy"] == (
            CONTENT_SECURITY_POLICY)
        assert response.headers["x-content-type-options"] == "nosniff"


def test_only_the_page_files_are_served(client):
    for path in ("/static/nothing.js", "/static/..%2Fpage.py",
                 "/static/%2e%2e%2fcard.py", "/page.py"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "error" in r.json()


class _Markup(html.parser.HTMLParser):
    """Every tag with its attributes, and the text inside <script>."""

    def __init__(self):
        super().__init__()
        self.tags, self.script_text, self._in_script = [], "", False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text += data.strip()


def test_page_has_no_inline_script_or_style_and_no_other_origin():
    markup = _Markup()
    markup.feed((pathlib.Path(STATIC_DIR) / "index.html").read_text())
    scripts = [a for t, a in markup.tags if t == "script"]
    assert scripts and all(a.get("src", "").startswith("static/")
                           for a in scripts)
    assert markup.script_text == ""
    assert "style" not in [t for t, _ in markup.tags]
    for tag, attrs in markup.tags:
        assert "style" not in attrs, tag
        assert not [a for a in attrs if a.startswith("on")], tag
        for key in ("src", "href"):
            url = attrs.get(key) or ""
            assert "//" not in url and not url.startswith("http"), url
    for name in ("page.js", "drawing.js"):
        code = (pathlib.Path(STATIC_DIR) / name).read_text()
        for unsafe in ("innerHTML", "eval(", "new Function", "http:",
                       "https:", 'setAttribute("style"'):
            assert unsafe not in code, (name, unsafe)


def test_model_list_and_card(client):
    meta = json.loads((MODEL_BASE / "1" / "metadata.json").read_text())
    assert client.get("/v1/models").json() == {"models": [{"name": "mnist"}]}
    card = client.get("/v1/models/mnist/versions/1/card").json()
    assert client.get("/v1/models/mnist/card").json() == card  # newest
    assert card["name"] == "mnist" and card["version"] == 1
    assert card["test_accuracy"] == meta["test_accuracy"] == 0.9846
    assert (card["test_correct"], card["test_examples"]) == (9846, 10000)
    assert card["architecture"] == ("MLP 784-512-512-10 · relu · he_normal "
                                    "init · BatchNorm before activation · "
                                    "dropout 0.3")
    assert card["preprocessing"] == ("standardize: (x/255 − 0.1307) / "
                                     "0.3081, inside the SavedModel")
    assert card["training"] == ("15 epochs · adam lr 0.001 · cosine "
                                "schedule · batch 128 · seed 0")
    assert card["train_command"] == meta["train_command"]
    assert card["export_command"] == meta["command"]
    assert card["created"] == meta["created"]
    assert "raw pixel values 0..255" in card["input"]
    for path in ("/v1/models/other/card", "/v1/models/mnist/versions/9/card",
                 "/v1/models/mnist/versions/x/card"):
        r = client.get(path)
        assert r.status_code == 404 and "error" in r.json(), path


def test_card_of_a_model_without_metadata():
    card = model_card("digits", 3, {})
    assert card["name"] == "digits" and card["version"] == 3
    assert {k for k, v in card.items() if v is not None} == {"name",
                                                             "version"}
    cnn = model_card("c", 1, {"model_config": {
        "arch": "cnn", "filters": [32, 64], "kernel_size": 3,
        "hidden": [128], "num_classes": 10, "activation": "relu"}})
    assert cnn["architecture"] == "CNN conv 32-64 (3×3) → dense 128-10 · relu"


def test_the_page_is_package_data():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    patterns = re.split(r"[,\s]+",
                        cfg["options.package_data"]["tfnn.serving"].strip())
    shipped = {os.path.basename(p) for pattern in patterns
               for p in glob.glob(os.path.join(REPO, "tfnn", "serving",
                                               pattern))}
    assert set(STATIC_FILES) <= shipped


@pytest.mark.slow
def test_a_built_wheel_ships_the_page(tmp_path):
    # Built from a copy, so that no build/ folder lands in the checkout.
    source = tmp_path / "src"
    shutil.copytree(REPO / "tfnn", source / "tfnn", ignore=shutil.
                    ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"),
         str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("tfnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in STATIC_FILES:
        assert f"tfnn/serving/static/{name}" in names


# --------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------


def _chromium():
    for path in ("/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if path and os.access(path, os.X_OK):
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    # Optional (the test extra): only the browser tests need it.
    sync_api = pytest.importorskip(
        "playwright.sync_api", exc_type=ImportError,
        reason="Playwright is not installed (pip install 'tfnn[test]'); "
        "the page's browser tests need it")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium found (apt-get install chromium; .ci/run "
                    "installs it); the page's browser tests need it")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable,
                                     args=CHROMIUM_ARGS, timeout=LAUNCH_MS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def tfnn_serve(tmp_path_factory):
    """``tfnn serve --model-dir saved_models/mnist`` on a free port."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with ServeProcess(MODEL_BASE, log=log) as running:
        yield running.url


class Tab:
    """A page with every console error, page error and failed request."""

    def __init__(self, browser, url, **context_args):
        self.context = browser.new_context(**context_args)
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("console", lambda m: m.type == "error" and
                     self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(
            f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(
            f"request failed: {r.url}"))
        self.page.goto(url + "/", wait_until="load")
        self.page.wait_for_function(
            "() => document.getElementById('model-in-use').dataset.version"
            " !== '' && document.getElementById('card').children.length > 0")

    def close(self):
        self.context.close()

    def strokes(self) -> int:
        return int(self.page.get_attribute("#prediction", "data-strokes"))

    def wait_answer(self, strokes: int) -> str:
        """The class shown once the answer for ``strokes`` strokes is in."""
        self.page.wait_for_function(
            "n => { const e = document.getElementById('prediction');"
            " return e.dataset.strokes === String(n) &&"
            " e.dataset.pending === '0'; }", arg=strokes)
        return self.page.get_attribute("#prediction", "data-class")


def draw_digit(tab, digit, threshold=128) -> int:
    """Draws a 28×28 digit with the mouse: each row's runs of pixels >=
    ``threshold`` one horizontal stroke, at the pad's scale (10×)."""
    box = tab.page.locator("#pad").bounding_box()
    scale = box["width"] / 28
    mouse, strokes = tab.page.mouse, 0
    for r in range(28):
        ink = np.flatnonzero(digit[r] >= threshold)
        if not len(ink):
            continue
        runs = np.split(ink, np.flatnonzero(np.diff(ink) > 1) + 1)
        y = box["y"] + (r + 0.5) * scale
        for run in runs:
            mouse.move(box["x"] + (run[0] + 0.5) * scale, y)
            mouse.down()
            mouse.move(box["x"] + (run[-1] + 0.5) * scale, y,
                       steps=2)
            mouse.up()
            strokes += 1
    return strokes


def clear(tab):
    tab.page.click("#clear")
    assert tab.wait_answer(0) == ""


def check_bars(tab):
    """Ten bars, each as long as its probability, summing to 1."""
    bars = tab.page.evaluate(
        "() => Array.from(document.querySelectorAll('#bars .track'), t =>"
        " [t.querySelector('.fill').getBoundingClientRect().width,"
        " t.getBoundingClientRect().width,"
        " parseFloat(t.nextElementSibling.textContent)])")
    fill, track, percent = np.array(bars).T
    assert len(fill) == 10 and abs(percent.sum() - 100) < 1
    np.testing.assert_allclose(fill / track, percent / 100, atol=0.01)


def pad_and_sent(tab):
    """The pad's ink (mean of R, G, B, as page.js reads it) and the 28×28
    image the page sent."""
    pad, sent = tab.page.evaluate(
        "() => [document.getElementById('pad'), document.getElementById("
        "'sent')].map(c => Array.from(c.getContext('2d').getImageData("
        "0, 0, c.width, c.height).data))")
    pad = np.asarray(pad, float).reshape(280, 280, 4)[..., :3].mean(axis=-1)
    sent = np.asarray(sent, int).reshape(28, 28, 4)[..., 0]
    return pad, sent


@pytest.mark.slow
@pytest.mark.usefixtures("mnist_manual_dir")
def test_drawn_test_digits_are_recognized(browser, tfnn_serve, mnist_raw):
    (_, _), (x_test, y_test) = mnist_raw
    tab = Tab(browser, tfnn_serve, viewport={"width": 1000, "height": 900})
    # The first test image of each class, 0 to 9.
    first = [int(np.flatnonzero(y_test == c)[0]) for c in range(10)]
    right, worst = 0, 0
    try:
        for i in first:
            clear(tab)
            shown = tab.wait_answer(draw_digit(tab, x_test[i]))
            right += shown == str(y_test[i])
            pad, sent = pad_and_sent(tab)
            worst = max(worst, int(np.abs(
                drawing.mnist_style(pad).astype(int) - sent).max()))
            check_bars(tab)
            if i == 0:  # test image 0 is the README's picture
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                tab.page.screenshot(path=str(SCREENSHOT), full_page=True)
        assert tab.page.text_content("#model-in-use") == "in use: mnist v1"
        assert "98.46 %" in tab.page.text_content("#card")
        assert tab.problems == []
    finally:
        tab.close()
    logger.info("browser: %d/10 drawn digits right; page's JS vs Python "
                "on the drawn pads: max difference %d", right, worst)
    assert worst <= 1
    assert right >= 9


@pytest.mark.slow
@pytest.mark.usefixtures("mnist_manual_dir")
def test_undo_and_clear(browser, tfnn_serve, mnist_raw):
    (_, _), (x_test, y_test) = mnist_raw
    tab = Tab(browser, tfnn_serve, viewport={"width": 1000, "height": 900})
    try:
        strokes = draw_digit(tab, x_test[0])
        assert tab.wait_answer(strokes) == str(y_test[0])
        before, _ = pad_and_sent(tab)
        box = tab.page.locator("#pad").bounding_box()
        tab.page.mouse.move(box["x"] + 20, box["y"] + 20)
        tab.page.mouse.down()
        tab.page.mouse.move(box["x"] + 260, box["y"] + 260, steps=4)
        tab.page.mouse.up()
        tab.wait_answer(strokes + 1)
        tab.page.click("#undo")  # the extra stroke goes, the digit stays
        assert tab.wait_answer(strokes) == str(y_test[0])
        np.testing.assert_array_equal(pad_and_sent(tab)[0], before)
        tab.page.click("#undo")
        tab.wait_answer(strokes - 1)
        for _ in range(strokes - 1):
            tab.page.click("#undo")
        assert tab.wait_answer(0) == ""
        draw_digit(tab, x_test[1])
        clear(tab)
        pad, sent = pad_and_sent(tab)
        assert not pad.any() and not sent.any()
        assert tab.page.text_content("#prediction") == "–"
        assert tab.problems == []
    finally:
        tab.close()


def _touch_stroke(tab, points):
    """A finger stroke through ``points`` (touch events, so pointer events
    with pointerType "touch")."""
    cdp = tab.context.new_cdp_session(tab.page)
    kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
    for kind, (x, y) in zip(kinds, points):
        cdp.send("Input.dispatchTouchEvent",
                 {"type": kind, "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd",
                                          "touchPoints": []})


@pytest.mark.slow
def test_phone_layout_and_touch(browser, tfnn_serve):
    tab = Tab(browser, tfnn_serve, viewport={"width": 375, "height": 812},
              is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        widths = tab.page.evaluate(
            "() => [document.documentElement.scrollWidth,"
            " document.body.scrollWidth, window.innerWidth]")
        assert max(widths[:2]) <= widths[2] == 375, widths
        for selector in ("#pad", "#sent", "#bars", "#undo", "#clear",
                         "#card"):
            box = tab.page.locator(selector).bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0, selector
            assert box["x"] >= 0 and box["x"] + box["width"] <= 375, (
                selector, box)
        tracks = tab.page.locator("#bars .track")
        assert tracks.count() == 10
        assert all(tracks.nth(d).bounding_box()["width"] > 50
                   for d in range(10))
        pad = tab.page.locator("#pad").bounding_box()
        x, y = pad["x"] + pad["width"] / 2, pad["y"]
        _touch_stroke(tab, [(x, y + pad["height"] * t / 10)
                            for t in range(1, 10)])  # a "1"
        assert tab.wait_answer(1) == "1"
        assert tab.problems == []
    finally:
        tab.close()


@pytest.mark.slow
def test_the_browser_enforces_the_policy(browser, tfnn_serve):
    # An inline script is refused, and the refusal is a console error (so
    # the clean-console checks above would catch a CSP violation).
    tab = Tab(browser, tfnn_serve)
    try:
        ran = tab.page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.inlineRan = true';"
            " document.head.appendChild(s); return window.inlineRan === true;"
            " }")
        assert ran is False
        tab.page.wait_for_timeout(200)
        assert any("Content Security Policy" in p for p in tab.problems)
    finally:
        tab.close()


@pytest.mark.slow
def test_version_chooser(browser, tmp_path):
    # Two versions served (the committed one, linked twice): the newest is
    # used; choosing version 1 switches the card and the predictions.
    base = tmp_path / "digits"
    base.mkdir()
    for version in ("1", "2"):
        os.symlink(MODEL_BASE / "1", base / version)
    app = serving.create_app(base, poll_interval=0)
    with serving.BackgroundServer(app) as running:
        tab = Tab(browser, running.url)
        try:
            page = tab.page
            assert page.text_content("#model-in-use") == "in use: digits v2"
            options = page.locator("#version-select option")
            assert options.all_text_contents() == ["2 (newest)", "1"]
            page.select_option("#version-select", "1")
            # The card is rendered after its response arrives: wait for the
            # DOM itself, not for the response.
            # (Polled from Python: the page's CSP forbids the eval that
            # wait_for_function needs.)
            deadline = time.monotonic() + 10
            while ("digits, version 1" not in page.text_content("#card")
                   and time.monotonic() < deadline):
                page.wait_for_timeout(50)
            assert page.text_content("#model-in-use") == "in use: digits v1"
            assert "digits, version 2" not in page.text_content("#card")
            pad = page.locator("#pad").bounding_box()
            with page.expect_request(
                    lambda r: r.url.endswith("/versions/1:predict")):
                page.mouse.move(pad["x"] + 140, pad["y"] + 40)
                page.mouse.down()
                page.mouse.move(pad["x"] + 140, pad["y"] + 240, steps=5)
                page.mouse.up()
            assert tab.wait_answer(1) == "1"
            assert tab.problems == []
        finally:
            tab.close()
