"""Process-wide TensorFlow settings that must be chosen before TensorFlow
is imported: which CPU kernels run a model's convolutions, and Keras's
import without ``matplotlib`` (:func:`defer_matplotlib_in_keras`).

TensorFlow 2.21 on x86 uses oneDNN kernels only where it turns them on by
default (CPUs with AVX-512 VNNI/AMX and the like) or where
``TF_ENABLE_ONEDNN_OPTS=1`` is set before ``import tensorflow``; elsewhere
(AVX2 machines) convolutions run on Eigen's kernels. oneDNN's convolutions
are the faster ones for the benchmark CNN, while the XLA-compiled dense
step gains nothing from them (``python scripts/benchmark.py`` measures both;
the figures are in docs/performance.md, not here, because they
belong to one machine). The switch is per process, so it is
decided from the model before TensorFlow loads: :func:`prefer_kernels_for`
turns oneDNN on for convolutional models and leaves everything else (and
any value the user set) alone. ``tfnn train`` calls it.
"""

from __future__ import annotations

import importlib
import importlib.abc
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


# Keras's two plotting helpers import matplotlib at module level; nothing
# else in ``import keras`` (or TensorFlow) does. Each entry: the module, its
# global, the module that global stands for.
KERAS_MATPLOTLIB = (
    ("keras.src.visualization.plot_image_gallery", "plt",
     "matplotlib.pyplot"),
    ("keras.src.visualization.plot_bounding_box_gallery", "patches",
     "matplotlib.patches"),
)


class DeferredModule:
    """Stands for the module ``name`` and imports it on first attribute
    access (``plt.subplots`` …); ``is None`` checks see an object."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr):
        # Only the module's own names: copy, pickle and the like probe
        # dunders (and ``_name`` itself, before __init__ ran).
        if attr == "_name" or (attr.startswith("__") and
                               attr.endswith("__")):
            raise AttributeError(attr)
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self):
        return f"<deferred module {self._name!r}>"


class _MatplotlibHeldBack(importlib.abc.Loader):
    """Runs keras's own loader with ``matplotlib`` held back, then puts
    the real loader back on the module and :class:`DeferredModule` objects
    in the plotting helpers' globals (also when the import failed: a
    retry finds the helpers already loaded)."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        _remove_keras_finder()  # keras is being imported: once is enough
        # ``None`` in sys.modules makes ``import matplotlib…`` raise
        # ImportError at once: Keras's helpers catch it and set None.
        held = "matplotlib" not in sys.modules
        if held:
            sys.modules["matplotlib"] = None
        try:
            self.loader.exec_module(module)
        finally:
            if held and sys.modules.get("matplotlib", 0) is None:
                del sys.modules["matplotlib"]
            module.__loader__ = module.__spec__.loader = self.loader
            for where, name, target in KERAS_MATPLOTLIB:
                helper = sys.modules.get(where)
                if helper is not None and getattr(helper, name, 0) is None:
                    setattr(helper, name, DeferredModule(target))


class _KerasFinder(importlib.abc.MetaPathFinder):
    """Finds ``keras`` with its own loader wrapped in
    :class:`_MatplotlibHeldBack`, until keras is imported.

    Every lookup gets the wrapped spec, not only the first: TensorFlow's
    import looks keras up (``importlib.util.find_spec``) without importing
    it, and the import that follows must still be caught.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        if "matplotlib" in sys.modules:  # already paid for: nothing to gain
            _remove_keras_finder()
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _MatplotlibHeldBack(spec.loader)
        return spec


def _remove_keras_finder() -> None:
    """Take :func:`defer_matplotlib_in_keras`'s finder out of
    ``sys.meta_path`` (if it is there). A new list, not the old one
    changed in place: an import walking the old list skips no finder."""
    if any(isinstance(f, _KerasFinder) for f in sys.meta_path):
        sys.meta_path = [f for f in sys.meta_path
                         if not isinstance(f, _KerasFinder)]


def defer_matplotlib_in_keras() -> bool:
    """Let Keras import without ``matplotlib``: −0.4 s on every process.

    ``import keras`` (3.15) imports ``matplotlib.pyplot`` and
    ``matplotlib.patches`` for two plotting helpers
    (``keras.visualization.plot_image_gallery`` and
    ``plot_bounding_box_gallery``) that tfnn never calls: 0.4–0.45 s of
    TensorFlow and Keras's 2.3 s import here (docs/performance.md, "Fifth
    pass"). This puts a finder on ``sys.meta_path`` that stays until
    keras is imported: that import (whoever makes it, before or after
    TensorFlow's) runs with ``matplotlib`` held back, so the helpers take
    their "no matplotlib" branch, and then their ``plt``/``patches``
    globals become :class:`DeferredModule` objects, so they still work
    (importing matplotlib then). tfnn's own figures import pyplot where
    they draw.

    Nothing is done once Keras is imported, or when ``matplotlib`` already
    is (then it costs Keras nothing). While Keras imports, another thread's
    ``import matplotlib`` would fail; tfnn's only such thread (the one
    ``tfnn.data.pipeline.prefetch`` starts) uses NumPy alone. ``import
    tfnn`` calls this.

    Returns:
        Whether the finder is in place (False: Keras already imported).
    """
    if "keras" in sys.modules:
        return False
    if not any(isinstance(f, _KerasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasFinder())
    return True
