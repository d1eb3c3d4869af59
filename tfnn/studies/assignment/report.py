"""The assignment's report: ``docs/assignment.md`` (the stage table, the
test-time shifts, the records against the goals, the best model's errors
and what each step showed), its figures and its numbers."""

from __future__ import annotations

import json
import os
import re

from tfnn.atomic_json import write_json
from tfnn.studies.assignment.plots import (
    plot_confusion,
    plot_misclassified,
    plot_stages,
)
from tfnn.studies.assignment.selection import to_json
from tfnn.studies.assignment.stages import WHY
from tfnn.studies.measures import percent as pct

DEFAULT_COMMAND = "python scripts/mnist_accuracy.py"


def _changes_text(row):
    """A stage's overrides as ``key=value, …`` (stages without a WHY)."""
    parts = [f"{k}={v}" for k, v in {**row["model_changes"],
                                     **row["train_changes"]}.items()]
    return ", ".join(parts) or "—"


def report_markdown(result, command, exports=None) -> str:
    """``docs/assignment.md``: the stage table, the figures, the records."""
    best = result["best"]
    lines = [
        *_intro_lines(result, command),
        *_stage_table(result),
        *_tta_lines(result),
        "", "## Records (best by validation accuracy)", "",
        *_record_lines(result, exports),
        "", "## The best model's errors", "",
        f"{best['label']}: {len(best['misclassified'])} of "
        f"{result['n_test']} test digits wrong.", "",
        "![confusion matrix](assignment/confusion.png)", "",
        "![misclassified digits](assignment/misclassified.png)", "",
        "## What the steps show", "",
        _findings(result),
    ]
    return "\n".join(lines) + "\n"


def _intro_lines(result, command) -> list:
    """The title, what was run, how to reproduce it."""
    cfg = result["config"]
    return [
        "# The assignment of note 003: MNIST accuracy as far as it goes",
        "",
        "Note 003 asks to train on MNIST \"with a suitable activation, "
        "weight initialization, optimizer etc. to push the accuracy as high "
        "as possible, showing the process\". Every stage below changes one "
        "thing from the stage before; every choice is judged on the "
        f"validation split ({result['n_val']} images held out of the "
        f"training set); the test set ({result['n_test']} images) is only "
        f"reported. {len(cfg['seeds'])} seed(s) per stage, "
        f"{result['n_train']} training images, {cfg['epochs']} epochs "
        "per stage (×3 from `longer` on).",
        "",
        f"Reproduce: `{command}` ({_training_minutes(result):.0f} min of "
        f"training on this {os.cpu_count()}-core CPU; every run is saved "
        "under `runs/assignment/` and a rerun reads finished runs back).",
        "",
        "![accuracy by stage](assignment/stages.png)",
        "",
    ]


def _stage_table(result) -> list:
    """One row per stage (mean ± std over seeds), then the ensembles."""
    lines = [
        "| # | stage | what changed | params | epochs | val acc | test acc "
        "(mean ± std) | gain (test) | train s / seed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(result["stages"]):
        lines.append(
            f"| {i} | {r['name']} | {WHY.get(r['name'], _changes_text(r))} "
            f"| {r['parameters']:,} | {r['epochs']} "
            f"| {pct(r['val_accuracy_mean'])} "
            f"| {pct(r['test_accuracy_mean'])} ± "
            f"{100 * r['test_accuracy_std']:.2f} "
            f"| {100 * r['test_gain']:+.2f} | {r['seconds_mean']:.0f} |")
    for e in result["ensembles"]:
        what = f"{WHY['ensemble']} ({e['members']})"
        if e.get("copies"):
            what += f" and {e['copies']} shifted copies of each image"
        lines.append(
            f"| | {e['name']} | {what} "
            f"| {e['parameters']:,} | | {pct(e['val_accuracy'])} "
            f"| {pct(e['test_accuracy'])} | | |")
    return lines


def _record_lines(result, exports) -> list:
    """The best MLP and CNN against the assignment's goals, and where each
    was exported."""
    lines = []
    goals = {"mlp": 0.988, "cnn": 0.996}
    records = result["records"]
    # In the goals' order (a JSON copy has its keys sorted).
    for arch in [a for a in goals if a in records]:
        rec = records[arch]
        exported = (exports or {}).get(arch)
        verdict = ("reached" if rec["test_accuracy"] >= goals[arch]
                   else "NOT reached")
        lines.append(
            f"- **{arch.upper()}**: {rec['label']}: "
            f"{pct(rec['val_accuracy'])} validation, "
            f"**{pct(rec['test_accuracy'])} test** (goal "
            f"{100 * goals[arch]:.1f} %: {verdict})"
            + (f"; exported to `{exported['path']}`, its SavedModel scores "
               f"{pct(exported['test_accuracy'])} on the 10,000 test "
               "images." if exported else "."))
    return lines


def _tta_lines(result) -> list:
    """The test-time augmentation table of the single models."""
    rows = result.get("tta") or []
    if not rows:
        return []
    lines = [
        "", "## Test-time augmentation", "",
        f"{WHY['tta']} The same trained models, no retraining; the gain is "
        "over the same seeds' models without shifts.", "",
        "| models | copies | val acc (mean ± std) | gain (val) | test acc "
        "(mean ± std) | gain (test) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['name']} ({r['members']} seeds) | {r['copies']} "
            f"| {pct(r['val_accuracy_mean'])} ± "
            f"{100 * r['val_accuracy_std']:.2f} | {100 * r['val_gain']:+.2f} "
            f"| {pct(r['test_accuracy_mean'])} ± "
            f"{100 * r['test_accuracy_std']:.2f} "
            f"| {100 * r['test_gain']:+.2f} |")
    return lines


def _training_minutes(result) -> float:
    """The stages' training time, summed over stages and seeds."""
    return sum(sum(r["seconds"]) for r in result["stages"]) / 60


def _findings(result) -> str:
    """One line per stage: its test gain, and whether it exceeds the seeds'
    spread."""
    rows = result["stages"]
    out = []
    for prev, r in zip(rows, rows[1:]):
        spread = max(r["test_accuracy_std"], prev["test_accuracy_std"])
        gain = r["test_gain"]
        if abs(gain) <= spread:
            word = "within the seeds' spread"
        else:
            word = "a gain" if gain > 0 else "a LOSS"
        out.append(f"- **{r['name']}** ({WHY.get(r['name'], '')}): "
                   f"{pct(prev['test_accuracy_mean'])} → "
                   f"{pct(r['test_accuracy_mean'])} test "
                   f"({100 * gain:+.2f} points, {word}; validation "
                   f"{100 * r['val_gain']:+.2f}).")
    lost = [r["name"] for r in rows[1:]
            if r["val_gain"] < 0 and abs(r["test_gain"]) > max(
                r["test_accuracy_std"], 1e-9)]
    if lost:
        out.append(
            f"\nStages that cost accuracy where they were added: "
            f"{', '.join(lost)}. The journey is fixed in advance and every "
            "later stage builds on them, so the table shows that cost as "
            "measured; a change that only pays off with a larger budget "
            "(augmentation needs more epochs to fit the harder, varied "
            "images) shows its gain in a later stage, where it is not "
            "separated from that stage's own change.")
    return "\n".join(out)


def write_report(result, docs_dir="docs", command=None, exports=None) -> str:
    """Write ``docs_dir/assignment.md``, ``docs_dir/assignment/*.png`` and
    ``assignment.json``; returns the Markdown file's path."""
    figures = os.path.join(docs_dir, "assignment")
    os.makedirs(figures, exist_ok=True)
    splits = result["splits"]
    # The preprocessing is affine per pixel: the grey scale shows the digit
    # as it was (imshow scales each image to its own range).
    x_test = splits.x_test
    for name, fig in (
            ("stages", plot_stages(result)),
            ("confusion", plot_confusion(result)),
            ("misclassified", plot_misclassified(result, x_test,
                                                 splits.y_test))):
        fig.savefig(os.path.join(figures, f"{name}.png"), dpi=110)
    command = command or DEFAULT_COMMAND
    write_json(os.path.join(figures, "assignment.json"),
               {**to_json(result), "exports": exports, "command": command},
               indent=1)
    path = os.path.join(docs_dir, "assignment.md")
    with open(path, "w") as fh:
        fh.write(report_markdown(result, command, exports))
    return path


def rebuild_report(docs_dir="docs") -> str:
    """Write ``docs_dir/assignment.md`` again from the saved
    ``docs_dir/assignment/assignment.json`` alone: nothing trains, the
    figures stay as they are. The command shown is the saved one (results
    saved before it was kept: the one the page already shows)."""
    with open(os.path.join(docs_dir, "assignment", "assignment.json")) as fh:
        saved = json.load(fh)
    path = os.path.join(docs_dir, "assignment.md")
    command = saved.get("command")
    if command is None and os.path.exists(path):
        with open(path) as fh:
            shown = re.search(r"^Reproduce: `([^`]+)`", fh.read(), re.M)
        command = shown and shown.group(1)
    text = report_markdown(saved, command or DEFAULT_COMMAND,
                           saved.get("exports"))
    with open(path, "w") as fh:
        fh.write(text)
    return path
