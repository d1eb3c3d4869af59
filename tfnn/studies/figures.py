"""The studies' figures: a matplotlib ``Figure`` made without pyplot."""

from __future__ import annotations

from matplotlib.figure import Figure


def figure(ncols=1, nrows=1, width=5.0, height=3.6, title=None):
    """A matplotlib ``Figure`` with a ``(nrows, ncols)`` grid of axes.

    Made without pyplot: no global figure registry, no backend switch, so a
    notebook user's backend is left alone and nothing needs closing.
    """
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    if title:
        fig.suptitle(title)
    return fig, axes
