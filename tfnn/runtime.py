"""Process-wide TensorFlow settings that must be chosen before TensorFlow
is imported: which CPU kernels run a model's convolutions
(:func:`prefer_kernels_for`), and an import of TensorFlow and Keras
without ``matplotlib`` for the processes that opt in
(:func:`import_tensorflow_without_matplotlib`). Importing this module
changes nothing; only calling these functions does.

TensorFlow 2.21 on x86 uses oneDNN kernels only where it turns them on by
default (CPUs with AVX-512 VNNI/AMX and the like) or where
``TF_ENABLE_ONEDNN_OPTS=1`` is set before ``import tensorflow``; elsewhere
(AVX2 machines) convolutions run on Eigen's kernels. oneDNN's convolutions
are the faster ones for the benchmark CNN, while the XLA-compiled dense
step gains nothing from them (``python scripts/benchmark.py`` measures both;
the figures are in docs/performance.md, not here, because they belong to
one machine). The switch is per process, so it is
decided from the model before TensorFlow loads: :func:`prefer_kernels_for`
turns oneDNN on for convolutional models and leaves everything else (and
any value the user set) alone. ``tfnn train`` calls it.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

logger = logging.getLogger(__name__)

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"


def onednn_wanted(arch: str) -> bool:
    """Whether tfnn turns oneDNN on for a model of ``arch``: convolutional
    models only (see the module's measurements)."""
    return arch == "cnn"


def prefer_kernels_for(arch: str) -> str | None:
    """Set ``TF_ENABLE_ONEDNN_OPTS=1`` for a convolutional ``arch`` unless
    the user set the variable or TensorFlow is already imported (then the
    setting could no longer take effect and is not touched).

    Returns:
        The variable's value in effect for this process (None: unset,
        TensorFlow's own default).
    """
    if onednn_wanted(arch) and ONEDNN not in os.environ:
        if "tensorflow" in sys.modules:
            logger.debug("TensorFlow already imported: %s left unset", ONEDNN)
        else:
            os.environ[ONEDNN] = "1"
    return os.environ.get(ONEDNN)


def import_tensorflow_without_matplotlib() -> bool:
    """Import TensorFlow and Keras with ``matplotlib`` held back, for a
    process that trains and draws with tfnn's own figures only.

    Keras 3 imports ``matplotlib.pyplot`` and ``matplotlib.patches`` when
    it is imported, for two gallery helpers
    (``keras.visualization.plot_image_gallery`` and
    ``plot_bounding_box_gallery``); nothing else in TensorFlow or Keras
    does, and it is a visible part of their import time
    (docs/performance.md, "Import without side effects"). While this
    imports them, ``sys.modules["matplotlib"]`` is ``None``, so Keras's
    ``import matplotlib.pyplot`` fails at once and the helpers take their
    "no matplotlib" branch; then the entry is removed again, so
    ``import matplotlib.pyplot`` works as always and tfnn's figures (which
    import pyplot where they draw) are unaffected.

    The cost: in this process Keras's two gallery helpers are unusable
    (they raise ImportError, "requires matplotlib"); tfnn never calls
    them. So this is opt-in, for the processes that want the time:
    ``tfnn train`` (``tfnn.cli.commands.train.before_tensorflow``) and the
    speedrun's seeds (``tfnn.studies.speedrun.run_seed``). ``import tfnn``
    does not call it and changes nothing in the interpreter.

    Nothing is held back when Keras or matplotlib is already imported
    (the first has its helpers, the second costs Keras nothing). While
    TensorFlow imports, another thread's ``import matplotlib`` would fail;
    tfnn's only such thread (``tfnn.data.prefetch``'s) uses NumPy alone.

    Returns:
        Whether matplotlib was held back.
    """
    held = not {"keras", "matplotlib"} & set(sys.modules)
    if held:
        sys.modules["matplotlib"] = None
    try:
        # For their side effect, being loaded: no names are bound here.
        importlib.import_module("tensorflow")
        importlib.import_module("keras")
    finally:
        if held and sys.modules.get("matplotlib", 0) is None:
            del sys.modules["matplotlib"]
    return held
