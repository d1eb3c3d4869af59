"""The README is the front page: its code runs, its commands parse, its
links lead somewhere, and it stays a landing page. docs/notes.md, the map
of the notes, points at tests and experiments that exist.

Its ```python blocks are executed as they stand (they are written small: a
5,000-image training part, two epochs), its ```bash blocks' ``tfnn`` lines
go through the real command-line parser, and its ``make`` lines name real
Makefile targets.
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import Path

import pytest

import tfnn
from tfnn.cli.router import build_parser

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
MAX_LINES = 200


def blocks(text: str, language: str) -> list[str]:
    """The bodies of the fenced ```language blocks of ``text``, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def command_lines(text: str, program: str) -> list[list[str]]:
    """Each line of the ```bash blocks that runs ``program``, split as a
    shell would (comments dropped)."""
    return [argv for block in blocks(text, "bash")
            for argv in (shlex.split(line, comments=True)
                         for line in block.splitlines())
            if argv and argv[0] == program]


def links(text: str) -> list[str]:
    """Relative link targets of ``text`` (Markdown links and images), without
    their ``#anchor``."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets
            if not re.match(r"[a-z]+://", t) and not t.startswith("#")]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation
    dropped (letters of any script kept), spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_helpers_find_blocks_commands_and_links():
    text = ("x\n```python\na = 1\n```\n```bash\ntfnn train --epochs 2  # c\n"
            "make test\n```\n[a](docs/a.md#s) ![b](f.png) [c](http://x/y)\n")
    assert blocks(text, "python") == ["a = 1\n"]
    assert command_lines(text, "tfnn") == [["tfnn", "train", "--epochs", "2"]]
    assert command_lines(text, "make") == [["make", "test"]]
    assert links(text) == ["docs/a.md", "f.png"]
    assert (github_slug("9. Batch size: 16 vs 128 (note 000); GD vs SGD")
            == "9-batch-size-16-vs-128-note-000-gd-vs-sgd")
    assert github_slug("Note 000 · Review (2주차 복습)") == \
        "note-000--review-2주차-복습"


def test_readme_is_a_landing_page():
    lines = README.splitlines()
    assert len(lines) <= MAX_LINES, f"README has {len(lines)} lines"
    # No benchmark table: those live in docs/performance.md.
    rows = [line for line in lines if line.startswith("|")]
    assert not [r for r in rows if re.search(r"ex(amples)?/s|GFLOP", r)]
    for doc in ("docs/notes.md", "docs/performance.md",
                "docs/troubleshooting.md", "docs/experiments.md"):
        assert f"]({doc})" in README, doc


def test_readme_links_lead_to_files():
    missing = [t for t in links(README) if not t.startswith("notebooks/")
               and not (REPO / t).exists()]
    assert not missing, missing


def test_readme_notebook_links_lead_to_notebooks():
    notebooks = [t for t in links(README) if t.startswith("notebooks/")]
    assert len(notebooks) == 5, notebooks
    if not (REPO / "notebooks").is_dir():
        pytest.skip("no notebooks/ folder in this checkout")
    missing = [t for t in notebooks if not (REPO / t).exists()]
    assert not missing, missing


def test_readme_make_lines_name_makefile_targets():
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(),
                             re.M))
    shown = [argv[1] for argv in command_lines(README, "make")]
    assert {"train", "test", "test-fast"} <= set(shown)
    assert set(shown) <= targets, sorted(set(shown) - targets)


def test_readme_tfnn_lines_parse_with_the_real_parser():
    commands = command_lines(README, "tfnn")
    assert len(commands) >= 5
    for argv in commands:
        parser = build_parser(commands={argv[1]})
        try:
            args = parser.parse_args(argv[1:])
        except SystemExit as exc:  # argparse's way of refusing a line
            pytest.fail(f"{shlex.join(argv)} does not parse (exit {exc})")
        assert args.command == argv[1]


def test_readme_names_comments_match_the_registries():
    shown = re.findall(r"^(\w+)\.names\(\)\s+# (.+)$", README, re.M)
    assert len(shown) == 3, shown
    for module, listed in shown:
        assert listed.split() == sorted(getattr(tfnn, module).names()), module


@pytest.mark.slow
def test_readme_python_blocks_run(mnist_manual_dir):
    code = blocks(README, "python")
    assert code, "the README shows no Python"
    namespace: dict = {}
    for block in code:
        exec(compile(block, "README.md", "exec"), namespace)
    # What the block's comments promise, measured.
    start = namespace["start"]
    assert abs(start["loss"] - math.log(10)) < 0.1, start
    history = namespace["history"]
    assert len(history.loss) == 2 and history.loss[-1] < history.loss[0]
    assert namespace["test_accuracy"] > 0.88, namespace["test_accuracy"]


def test_experiment_anchors_name_real_headings():
    experiments = (REPO / "docs" / "experiments.md").read_text()
    slugs = {github_slug(h)
             for h in re.findall(r"^## (.+)$", experiments, re.M)}
    notes = (REPO / "docs" / "notes.md").read_text()
    anchors = set(re.findall(r"experiments\.md#([^)\s]+)\)",
                             README + notes))
    assert len(anchors) >= 16, sorted(anchors)
    assert anchors <= slugs, sorted(anchors - slugs)


def test_notes_map_names_real_tests():
    notes = (REPO / "docs" / "notes.md").read_text()
    named = set(re.findall(r"`(tests/\w+\.py)::(\w+)`", notes))
    assert len(named) >= 50, len(named)
    missing = [f"{path}::{name}" for path, name in sorted(named)
               if not (REPO / path).is_file() or not re.search(
                   rf"^def {name}\(", (REPO / path).read_text(), re.M)]
    assert not missing, missing


def test_notes_map_covers_the_five_notes_and_their_notebooks():
    notes = (REPO / "docs" / "notes.md").read_text()
    heads = re.findall(r"^## (Note 00\d) ", notes, re.M)
    assert heads == [f"Note 00{i}" for i in range(5)]
    notebooks = set(re.findall(r"\(\.\./(notebooks/[\w.]+)\)", notes))
    readme_notebooks = {t for t in links(README)
                        if t.startswith("notebooks/")}
    assert notebooks == readme_notebooks
    # Every internal link of the table of notes lands on a note's heading.
    slugs = {github_slug(h) for h in re.findall(r"^## (.+)$", notes, re.M)}
    inner = set(re.findall(r"\]\(#([^)]+)\)", notes))
    assert len(inner) == 5 and inner <= slugs, sorted(inner - slugs)


def test_registry_keys_in_the_readme_and_the_notes_map_exist():
    text = README + (REPO / "docs" / "notes.md").read_text()
    calls = re.findall(r"\b(activations|initializers|optimizers)\.get\("
                       r"([^)]*)\)", text)
    assert len(calls) >= 30, len(calls)
    wrong = [(module, key) for module, args in calls
             for key in re.findall(r'"(\w+)"', args)
             if key not in getattr(tfnn, module).names()]
    assert not wrong, wrong
