"""Process-wide TensorFlow settings that must be chosen before TensorFlow
is imported: which CPU kernels run a model's convolutions.

TensorFlow 2.21 on x86 uses oneDNN kernels only where it turns them on by
default (CPUs with AVX-512 VNNI/AMX and the like) or where
``TF_ENABLE_ONEDNN_OPTS=1`` is set before ``import tensorflow``; elsewhere
(AVX2 machines) convolutions run on Eigen's kernels. oneDNN's convolutions
are the faster ones for the benchmark CNN, while the XLA-compiled dense
step gains nothing from them (``python scripts/benchmark.py`` measures both;
the figures are in README's performance section, not here, because they
belong to one machine). The switch is per process, so it is
decided from the model before TensorFlow loads: :func:`prefer_kernels_for`
turns oneDNN on for convolutional models and leaves everything else (and
any value the user set) alone. ``tfnn train`` calls it.
"""

from __future__ import annotations

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
