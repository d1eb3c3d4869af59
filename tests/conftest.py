"""Shared test configuration: where MNIST's official files are, and fixtures.

The library reads the folder of official files only from ``--manual-dir`` or
``$TFNN_MANUAL_DIR``. Test configuration may point the variable at the
repository's sibling ``../shared/datasets/mnist`` when the user has not set it.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One set of CPU kernels on every x86 machine: TensorFlow turns oneDNN on
# by itself only on some CPUs (AVX-512 VNNI and newer), so the suite asks
# for it everywhere, before TensorFlow loads (and its subprocesses inherit
# it). oneDNN's convolutions are also the faster ones (docs/performance.md),
# as ``tfnn train`` chooses for a CNN. A value the user set is kept.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import pathlib  # noqa: E402

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfnn import data  # noqa: E402
from tfnn.config import ModelConfig  # noqa: E402
from tfnn.models import build_mlp  # noqa: E402
from tfnn.studies import experiments  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"

if not os.environ.get("TFNN_MANUAL_DIR") and SHARED_MNIST.is_dir():
    os.environ["TFNN_MANUAL_DIR"] = str(SHARED_MNIST)


@pytest.fixture(scope="session")
def mnist_manual_dir():
    """The folder of MNIST's four official files (skips when unknown)."""
    folder = data.resolve_manual_dir()
    if folder is None or not all(
        os.path.isfile(os.path.join(folder, f)) for f in data.OFFICIAL_FILES
    ):
        pytest.skip(
            f"MNIST's official files not found: set {data.MANUAL_DIR_ENV} to "
            f"the folder holding {', '.join(data.OFFICIAL_FILES)}"
        )
    return folder


@pytest.fixture(scope="session")
def mnist_builder():
    """Prepares tfds's ``mnist`` once per session; returns the builder."""
    return data.prepare("mnist")


@pytest.fixture(scope="session")
def mnist(mnist_builder):
    """``tfnn.data.Splits`` of MNIST: standardized, 55,000/5,000/10,000."""
    return data.load("mnist", preprocessing="standardize", validation_size=5000)


@pytest.fixture(scope="session")
def mnist_raw(mnist_builder):
    """``((x_train, y_train), (x_test, y_test))``: uint8 images, int64 labels.

    The arrays are read-only (shared with ``tfnn.data``'s in-process cache).
    """
    return data.load_arrays("mnist", "train"), data.load_arrays("mnist", "test")


@pytest.fixture(scope="session")
def train_mlp(mnist):
    """``train_mlp(seed, steps)``: a 784-64-10 MLP trained with Adam for
    ``steps`` steps of 128 MNIST images (the served model of the serving
    tests)."""

    def train(seed, steps):
        keras.utils.set_random_seed(seed)
        model = build_mlp(hidden=(64,))
        model.compile(
            optimizer=keras.optimizers.Adam(2e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        n = steps * 128
        model.fit(mnist.x_train[:n], mnist.y_train[:n], batch_size=128,
                  epochs=1, verbose=0)
        return model

    return train


@pytest.fixture(scope="session")
def mlp(train_mlp):
    """The MLP of ``train_mlp(seed=0, steps=300)``, trained once."""
    return train_mlp(seed=0, steps=300)


def pytest_configure(config):
    """Split the CPU into two logical devices before TensorFlow starts, so
    the ``mirrored`` strategy can be tested over two replicas here."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
        )
    except RuntimeError:  # already initialized (e.g. a plugin ran TF)
        pass


@pytest.fixture(scope="session")
def experiment_dir(tmp_path_factory):
    """Where the quick experiments of this session write PNG and JSON."""
    return tmp_path_factory.mktemp("experiments")


@pytest.fixture(scope="session")
def run_quick(experiment_dir):
    """``run_quick(name)``: runs experiment ``name`` in quick mode once per
    session (writing NAME.png and NAME.json) and returns its result."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = experiments.run(name, "quick",
                                          out_dir=str(experiment_dir))
        return cache[name]

    return get


def _check_figure(fig):
    """Every experiment's figure: a title, and every plotting axis labelled.

    Colorbars and hidden axes are left out; a twin axis (same position) or
    an axis sharing x may carry the x label and title for its partner.
    """
    assert fig.get_suptitle(), "figure has no title"
    axes = [ax for ax in fig.axes
            if ax.axison and ax.get_label() != "<colorbar>"]
    assert axes, "figure has no plotting axes"
    for ax in axes:
        partners = set(ax.get_shared_x_axes().get_siblings(ax)) | {
            a for a in axes
            if a.get_position().bounds == ax.get_position().bounds}
        assert ax.get_ylabel(), ("no y label", ax.get_title())
        assert any(a.get_xlabel() for a in partners), ("no x label", ax)
        assert any(a.get_title() for a in partners), ("no title", ax)


@pytest.fixture
def check_figure():
    """``check_figure(fig)``: the figure contract every experiment keeps."""
    return _check_figure


@pytest.fixture
def write_run(mnist):
    """``write_run(model, folder, hidden)``: ``model`` (an MLP with those
    hidden sizes) saved as a training run folder that ``tfnn export``
    reads (``model.keras`` and ``summary.json``); returns the folder."""

    def write(model, folder, hidden):
        folder.mkdir()
        model.save(folder / "model.keras")
        (folder / "summary.json").write_text(json.dumps({
            "model_config": ModelConfig(arch="mlp",
                                        hidden=hidden).to_dict(),
            "preprocessor": mnist.preprocessor.to_dict(),
            "dataset": "mnist",
        }))
        return folder

    return write
