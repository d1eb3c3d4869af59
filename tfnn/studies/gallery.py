"""The experiment gallery: ``docs/experiments.md`` with every figure.

``tfnn experiment gallery`` runs every experiment in full mode, writes the
figures and numbers under ``docs/figures/`` and one section per experiment:
the note's claim, the figure, what we measured and whether it held, and
(where the experiment has a ``limits(result)``) what it does not settle.
``tfnn experiment gallery --from-json`` rebuilds the page from the saved
numbers alone (:func:`rebuild_gallery`), running nothing.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time

from tfnn.studies import experiments

logger = logging.getLogger(__name__)


def rebuild_gallery(docs_dir="docs") -> str:
    """Write the gallery page from the saved ``docs_dir/figures/NAME.json``
    alone: no experiment runs, the figures stay as they are."""
    return write_gallery(docs_dir, only=[])


def section(number, name, result, mode="full") -> str:
    """One experiment's section: title, the note's claim, the figure, the
    summary of ``result`` and, where the module has ``limits``, what the
    experiment does not settle; then how to rerun it."""
    module = experiments.get(name)
    seconds = result.get("seconds")
    limits = getattr(module, "limits", None)
    return (
        f"## {number}. {module.TITLE}\n\n"
        f"**The note's claim.** {module.CLAIM}\n\n"
        f"![{name}](figures/{name}.png)\n\n"
        f"**What we measured.** {module.summarize(result)}\n\n"
        + (f"{limits(result)}\n\n" if limits else "")
        + f"<sub>`tfnn experiment run {name}` ({result.get('mode', mode)} "
        f"mode{'' if seconds is None else f', {seconds:.0f} s here'}); "
        f"numbers in [figures/{name}.json](figures/{name}.json).</sub>\n"
    )


def write_gallery(docs_dir="docs", mode="full", only=None) -> str:
    """Run (``only`` or all) experiments and write the gallery page.

    Experiments not in ``only`` are summarized from their saved JSON, so a
    partial regeneration keeps the rest of the page.
    """
    figures = os.path.join(docs_dir, "figures")
    os.makedirs(figures, exist_ok=True)
    sections, timings = [], {}
    for number, name in enumerate(experiments.names(), 1):
        module = experiments.get(name)
        json_path = os.path.join(figures, f"{name}.json")
        if only is None or name in only:
            logger.info("running %s (%s mode)", name, mode)
            t0 = time.perf_counter()
            result = experiments.run(name, mode=mode, out_dir=figures)
            timings[name] = time.perf_counter() - t0
            result["seconds"] = timings[name]
            experiments.save(name, result, figures)
        elif os.path.exists(json_path):
            with open(json_path) as fh:
                result = json.load(fh)
        else:
            sections.append(f"## {number}. {module.TITLE}\n\n_not run yet_\n")
            continue
        sections.append(section(number, name, result, mode))
    header = (
        "# Experiments from the notes\n\n"
        "Every experiment of the study notes, run by `tfnn` on the real MNIST "
        "data where it uses data. Regenerate the whole page with "
        "`tfnn experiment gallery` (or `python scripts/run_experiments.py "
        "gallery`); `tfnn experiment gallery --from-json` rebuilds it from "
        "the saved numbers without running anything. Where a note's claim "
        "does not hold as stated, the measured numbers say so.\n\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{platform.python_implementation()} {platform.python_version()}.\n\n"
    )
    path = os.path.join(docs_dir, "experiments.md")
    with open(path, "w") as fh:
        fh.write(header + "\n".join(sections))
    return path
