"""MNIST-format data, input preprocessing and the tf.data input pipeline.

Where the data comes from:
    The real ``mnist`` and ``fashion_mnist`` datasets of TensorFlow Datasets
    (tfds), built **offline** from a folder holding the four official files
    (``OFFICIAL_FILES``). The folder is given by the user: the ``manual_dir``
    argument (``--manual-dir`` on the command line) or the ``TFNN_MANUAL_DIR``
    environment variable. tfds writes the prepared dataset once into
    ``data_dir`` (argument, else ``TFNN_DATA_DIR``, else tfds's default
    ``~/tensorflow_datasets``); later loads read it from there and need no
    folder. With a manual folder nothing touches the network: no download,
    no GCS look-up. Without one, tfds downloads only if the dataset's host is
    reachable; otherwise the error says which files to put where.

    MNIST's files: http://yann.lecun.com/exdb/mnist/. Fashion-MNIST's files
    (same names and format): the Debian package ``dataset-fashion-mnist``
    (``/usr/share/datasets/fashion-mnist/``) or
    https://github.com/zalandoresearch/fashion-mnist. Every file is checked:
    its ``.gz`` must have tfds's registered SHA-256, or, for a re-compressed
    copy such as Debian's (whose gzip headers differ), its decompressed
    content must have the SHA-256 of the official idx file.

    Images come back as ``uint8 (N, 28, 28)`` and labels as ``int64 (N,)``,
    in tfds's order (a fixed shuffle of the files' order): 60,000 train and
    10,000 test examples.

Input preprocessing (notes 001 "Normalizing inputs", 004 "Data
Preprocessing"), with scalar statistics of the *training* part only:
    raw:          x                          (float32 in [0, 255])
    minmax:       x / 255                    (min-max scaling to [0, 1])
    standardize:  (x / 255 - mean) / std     (mean, std of x_train / 255)

Epochs, iterations and mini-batches (notes 001, 002): ``make_dataset``
reshuffles every epoch; ``batch_size=None`` is full-batch gradient descent,
``batch_size=1`` is SGD, and ``drop_remainder`` is PyTorch's ``drop_last``
(note 002 keeps the last, smaller batch: ``drop_remainder=False``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import hashlib
import logging
import math
import os
import socket
import tempfile
import urllib.parse
from typing import TYPE_CHECKING

import numpy as np

from tfnn.provenance import sha256

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

logger = logging.getLogger(__name__)

DATASETS = ("mnist", "fashion_mnist")
PREPROCESSING = ("raw", "minmax", "standardize")
MANUAL_DIR_ENV = "TFNN_MANUAL_DIR"
DATA_DIR_ENV = "TFNN_DATA_DIR"
OFFICIAL_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
SPLITS = ("train", "test")
NUM_CLASSES = 10

_SOURCES = {
    "mnist": "MNIST: http://yann.lecun.com/exdb/mnist/ (the files tfds "
    "downloads from https://storage.googleapis.com/cvdf-datasets/mnist/)",
    "fashion_mnist": "Fashion-MNIST: the Debian package "
    "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) puts them "
    "in /usr/share/datasets/fashion-mnist/; upstream "
    "https://github.com/zalandoresearch/fashion-mnist",
}

# SHA-256 of the *decompressed* official idx files. tfds registers the
# checksums of the .gz files; a re-compressed copy (Debian rewrites the gzip
# headers) has other .gz checksums but these same idx bytes.
_IDX_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738"
        "ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5"
        "333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77"
        "db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351"
        "222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f8388776"
        "8d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec29"
        "4ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe0"
        "87ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494"
        "c5af83dab82d92729df917d7dec38c34",
    },
}


class MissingDataError(FileNotFoundError):
    """The dataset is neither prepared nor buildable from what was given."""


# --------------------------------------------------------------------------
# Names and paths
# --------------------------------------------------------------------------


def _check_dataset(dataset: str) -> str:
    key = str(dataset).lower().replace("-", "_")
    if key not in DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}; choose from {sorted(DATASETS)}"
        )
    return key


def _check_preprocessing(kind: str) -> str:
    key = str(kind).lower().replace("-", "_")
    if key not in PREPROCESSING:
        raise ValueError(
            f"Unknown preprocessing {kind!r}; "
            f"choose from {sorted(PREPROCESSING)}"
        )
    return key


def _path_or_none(value) -> str | None:
    if value is None or os.fspath(value) == "":
        return None
    return os.path.abspath(os.path.expanduser(os.fspath(value)))


def resolve_manual_dir(manual_dir=None) -> str | None:
    """The folder of official files: the argument, else ``$TFNN_MANUAL_DIR``.

    Args:
        manual_dir: a folder, or None. Defaults to None.

    Returns:
        An absolute path, or None when neither is set.
    """
    if manual_dir is not None:
        return _path_or_none(manual_dir)
    return _path_or_none(os.environ.get(MANUAL_DIR_ENV))


def _resolve_data_dir(data_dir=None) -> str | None:
    """The argument, else ``$TFNN_DATA_DIR``, else None (tfds's default)."""
    if data_dir is not None:
        return _path_or_none(data_dir)
    return _path_or_none(os.environ.get(DATA_DIR_ENV))


def _how_to_get_files(name: str) -> str:
    files = "".join(f"    {f}\n" for f in OFFICIAL_FILES)
    order = (name, *(n for n in DATASETS if n != name))
    sources = "".join(f"  {_SOURCES[n]}\n" for n in order)
    return (
        f"Build {name} offline from a folder holding the four official "
        f"files:\n{files}"
        f"and pass that folder with the --manual-dir PATH option, or set the "
        f"{MANUAL_DIR_ENV}=PATH environment variable (manual_dir=PATH in "
        f"Python). Where the files come from:\n{sources}"
    ).rstrip()


# --------------------------------------------------------------------------
# Building with tfds
# --------------------------------------------------------------------------


@contextlib.contextmanager
def _gcs_disabled():
    """Keep tfds away from its GCS bucket (dataset info, prepared data).

    tfds 4.9 ships with GCS disabled; this makes sure of it on any version.
    TF's gs:// file system talks through libcurl, which no Python-level
    socket guard can see.
    """
    from tensorflow_datasets.core.utils import gcs_utils

    if not hasattr(gcs_utils, "_is_gcs_disabled"):
        yield
        return
    old = gcs_utils._is_gcs_disabled
    gcs_utils._is_gcs_disabled = True
    try:
        yield
    finally:
        gcs_utils._is_gcs_disabled = old



def _check_manual_dir(name: str, manual_dir: str) -> None:
    if not os.path.isdir(manual_dir):
        raise MissingDataError(
            f"The manual folder {manual_dir} does not exist.\n"
            + _how_to_get_files(name)
        )
    missing = [
        f for f in OFFICIAL_FILES
        if not os.path.isfile(os.path.join(manual_dir, f))
    ]
    if missing:
        raise MissingDataError(
            f"The manual folder {manual_dir} lacks {len(missing)} of the four "
            f"official {name} files: {', '.join(missing)}.\n"
            + _how_to_get_files(name)
        )


def _manual_url_infos(builder, name: str, manual_dir: str) -> dict:
    """Checks the manual files; returns url infos for re-compressed copies.

    A file whose .gz has tfds's registered checksum needs nothing. One whose
    decompressed idx bytes are the official ones (``_IDX_SHA256``) is
    accepted by registering its own .gz checksum for this build only.
    Anything else raises ``ValueError``.
    """
    from tensorflow_datasets.core.download import checksums

    registered = {
        info.filename: (url, info)
        for url, info in (builder.url_infos or {}).items()
    }
    accepted = {}
    for fname in OFFICIAL_FILES:
        if fname not in registered:
            continue  # tfds validates what it knows
        path = os.path.join(manual_dir, fname)
        url, expected = registered[fname]
        gz_sha = sha256(path)
        if gz_sha == expected.checksum:
            continue
        idx_sha = sha256(path, opener=gzip.open)
        if idx_sha == _IDX_SHA256[name][fname]:
            logger.info("%s: re-compressed copy of the official %s file "
                        "(same idx content)", path, name)
            accepted[url] = checksums.UrlInfo(
                size=os.path.getsize(path), checksum=gz_sha, filename=fname
            )
            continue
        owner = [n for n, table in _IDX_SHA256.items()
                 if table.get(fname) == idx_sha]
        what = f"it is {owner[0]}'s" if owner else "unknown content"
        raise ValueError(
            f"{path} is not the official {name} file ({what}; SHA-256 of "
            f"the .gz {gz_sha}, expected {expected.checksum}).\n"
            + _how_to_get_files(name)
        )
    return accepted


def _build_from_manual_dir(builder, name: str, manual_dir: str) -> None:
    import tensorflow_datasets as tfds

    _check_manual_dir(name, manual_dir)
    accepted = _manual_url_infos(builder, name, manual_dir)
    if accepted:
        # tfds validates manual files against its registered .gz checksums
        # and offers no public override, so add ours to this build's
        # download manager (nothing global changes).
        make_manager = builder._make_download_manager

        def make_manager_with_local_checksums(download_dir, download_config):
            manager = make_manager(
                download_dir=download_dir, download_config=download_config
            )
            manager._url_infos.update(accepted)
            return manager

        builder._make_download_manager = make_manager_with_local_checksums
    config = tfds.download.DownloadConfig(
        manual_dir=manual_dir, try_download_gcs=False
    )
    # The .gz files are extracted into the download folder: a temporary one,
    # so only the prepared dataset stays in data_dir.
    with tempfile.TemporaryDirectory(prefix="tfnn_tfds_") as download_dir:
        builder.download_and_prepare(
            download_dir=download_dir, download_config=config
        )


def _host_reachable(builder, timeout: float = 3.0) -> tuple[bool, str]:
    urls = sorted(builder.url_infos or {})
    if not urls:
        return False, "tfds knows no download address"
    parts = urllib.parse.urlsplit(urls[0])
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True, ""
    except Exception as err:  # noqa: BLE001 - any failure means offline
        return False, f"{parts.hostname} unreachable: {err}"


def _download(builder, name: str) -> None:
    import tensorflow_datasets as tfds

    reachable, reason = _host_reachable(builder)
    if reachable:
        try:
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    try_download_gcs=False
                )
            )
            return
        except Exception as err:  # noqa: BLE001 - re-raised with advice
            reason = f"download failed: {err}"
            cause = err
    else:
        cause = None
    raise MissingDataError(
        f"The {name} dataset is not prepared in {builder.data_dir_root} and "
        f"no manual folder was given ({reason}).\n" + _how_to_get_files(name)
    ) from cause


def prepare(dataset: str = "mnist", manual_dir=None, data_dir=None):
    """Builds the tfds dataset once (idempotent) and returns its builder.

    Args:
        dataset: one of ``DATASETS``. Defaults to "mnist".
        manual_dir: folder with the four ``OFFICIAL_FILES``. Defaults to
            ``$TFNN_MANUAL_DIR``. Only read when the dataset is not prepared.
        data_dir: where tfds keeps prepared datasets. Defaults to
            ``$TFNN_DATA_DIR``, else tfds's default.

    Returns:
        The prepared ``tfds.core.DatasetBuilder``.

    Raises:
        ValueError: unknown dataset, or a manual file that is not official.
        MissingDataError: a missing manual folder or file, or no manual
            folder and no network; the message says what to do.
    """
    import tensorflow_datasets as tfds

    name = _check_dataset(dataset)
    manual_dir = resolve_manual_dir(manual_dir)
    data_dir = _resolve_data_dir(data_dir)
    with _gcs_disabled():
        builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
        if builder.is_prepared():
            return builder
        try:
            if manual_dir is None:
                _download(builder, name)
            else:
                _build_from_manual_dir(builder, name, manual_dir)
        except MissingDataError:
            raise
        except OSError:
            # Another process may have finished the same build first.
            builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
            if not builder.is_prepared():
                raise
            return builder
        # A fresh builder reads the DatasetInfo just written.
        return tfds.builder(name, data_dir=data_dir, try_gcs=False)


def load_arrays(
    dataset: str = "mnist", split: str = "train", manual_dir=None,
    data_dir=None,
) -> tuple[np.ndarray, np.ndarray]:
    """One split as NumPy arrays, cached in-process.

    Args:
        dataset: one of ``DATASETS``. Defaults to "mnist".
        split: "train" or "test". Defaults to "train".
        manual_dir: see ``prepare``.
        data_dir: see ``prepare``.

    Returns:
        ``(images, labels)``: read-only ``uint8 (N, 28, 28)`` and
        ``int64 (N,)`` arrays (shared by every caller: copy to modify).
    """
    name = _check_dataset(dataset)
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose from {list(SPLITS)}")
    return _load_arrays_cached(
        name, split, resolve_manual_dir(manual_dir), _resolve_data_dir(data_dir)
    )


@functools.lru_cache(maxsize=8)
def _load_arrays_cached(name, split, manual_dir, data_dir):
    import tensorflow_datasets as tfds

    builder = prepare(name, manual_dir=manual_dir, data_dir=data_dir)
    ds = builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
    images, labels = tfds.as_numpy(ds)  # (N, 28, 28, 1) uint8, (N,) int64
    images = np.ascontiguousarray(images[..., 0], dtype=np.uint8)  # (N, 28, 28)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


# --------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Preprocessor:
    """Input normalization of notes 001 and 004.

    raw:          x
    minmax:       x / 255
    standardize:  (x / 255 - mean) / std

    ``mean`` and ``std`` are scalar pixel statistics of the training set
    after ``/ 255`` (``Preprocessor.fit``), never of validation or test data.

    Args:
        kind: one of ``PREPROCESSING``. Defaults to "standardize".
        mean: training-set pixel mean after /255. Defaults to 0.0.
        std: training-set pixel standard deviation after /255. Defaults
            to 1.0.
    """

    kind: str = "standardize"  # raw | minmax | standardize
    mean: float = 0.0  # of x_train / 255; used by standardize only
    std: float = 1.0  # of x_train / 255; used by standardize only

    def __post_init__(self):
        object.__setattr__(self, "kind", _check_preprocessing(self.kind))
        object.__setattr__(self, "mean", float(self.mean))
        object.__setattr__(self, "std", float(self.std))
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(
                f"std must be positive and finite. Received: std={self.std}"
            )
        if not math.isfinite(self.mean):
            raise ValueError(f"mean must be finite. Received: mean={self.mean}")

    @classmethod
    def fit(cls, kind: str, x_train) -> "Preprocessor":
        """Computes the statistics ``kind`` needs from training images.

        Args:
            kind: one of ``PREPROCESSING``.
            x_train: training images, pixel values in [0, 255].

        Returns:
            A ``Preprocessor``; mean/std of ``x_train / 255`` for
            standardize, 0 and 1 otherwise.
        """
        kind = _check_preprocessing(kind)
        if kind != "standardize":
            return cls(kind)
        x = np.asarray(x_train)
        if x.size == 0:
            raise ValueError("Cannot fit standardize on an empty x_train.")
        if x.dtype == np.uint8:
            # Exact float64 statistics from the 256-bin pixel histogram.
            counts = np.bincount(x.ravel(), minlength=256).astype(np.float64)
            values = np.arange(256, dtype=np.float64) / 255.0
            mean = float(counts @ values / x.size)
            std = float(np.sqrt(counts @ (values - mean) ** 2 / x.size))
        else:
            x = x.astype(np.float64) / 255.0
            mean, std = float(x.mean()), float(x.std())
        return cls(kind, mean=mean, std=std)

    def __call__(self, x) -> np.ndarray:
        """NumPy version: float32 array of ``x``'s shape."""
        x = np.asarray(x, dtype=np.float32)
        if self.kind == "raw":
            return x
        x = x / np.float32(255.0)
        if self.kind == "minmax":
            return x
        return (x - np.float32(self.mean)) / np.float32(self.std)

    def apply_tf(self, x) -> "tf.Tensor":
        """Graph version (same float32 math), for exported SavedModels."""
        import tensorflow as tf

        x = tf.cast(x, tf.float32)
        if self.kind == "raw":
            return x
        x = x / tf.constant(255.0, tf.float32)
        if self.kind == "minmax":
            return x
        mean = tf.constant(self.mean, tf.float32)
        std = tf.constant(self.std, tf.float32)
        return (x - mean) / std

    def to_dict(self) -> dict:
        return {"kind": self.kind, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessor":
        return cls(kind=d["kind"], mean=d.get("mean", 0.0),
                   std=d.get("std", 1.0))


# --------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------


@dataclasses.dataclass
class Splits:
    """Train / validation / test arrays after preprocessing.

    Images are float32 ``(N, 28, 28)``, labels int64 ``(N,)``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    preprocessor: Preprocessor
    dataset: str

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES


def load(
    dataset: str = "mnist",
    preprocessing: str = "standardize",
    validation_size: int = 5000,
    manual_dir=None,
    data_dir=None,
    seed: int | None = 0,
    train_limit: int | None = None,
) -> Splits:
    """Loads a dataset, carves a validation set, fits and applies preprocessing.

    The validation examples are the first ``validation_size`` entries of a
    permutation drawn with ``seed``; the rest is the training part (both keep
    tfds's order). ``train_limit`` keeps the first N examples of the training
    part. The preprocessor is fit on the training part actually returned.

    Args:
        dataset: one of ``DATASETS``. Defaults to "mnist".
        preprocessing: one of ``PREPROCESSING``. Defaults to "standardize".
        validation_size: examples held out of the 60,000; may be 0.
            Defaults to 5000.
        manual_dir: see ``prepare``.
        data_dir: see ``prepare``.
        seed: seed of the validation permutation. Defaults to 0.
        train_limit: keep only this many training examples. Defaults to None
            (all).

    Returns:
        A ``Splits``.
    """
    name = _check_dataset(dataset)
    kind = _check_preprocessing(preprocessing)
    x_all, y_all = load_arrays(name, "train", manual_dir, data_dir)
    x_test, y_test = load_arrays(name, "test", manual_dir, data_dir)
    n = len(x_all)
    if (isinstance(validation_size, bool)
            or not isinstance(validation_size, (int, np.integer))
            or not 0 <= validation_size < n):
        raise ValueError(
            f"validation_size must be an integer in [0, {n}). "
            f"Received: validation_size={validation_size!r}"
        )
    if train_limit is not None and (
        isinstance(train_limit, bool)
        or not isinstance(train_limit, (int, np.integer))
        or train_limit < 1
    ):
        raise ValueError(
            f"train_limit must be a positive integer or None. "
            f"Received: train_limit={train_limit!r}"
        )
    perm = np.random.default_rng(seed).permutation(n)
    val_idx = np.sort(perm[:validation_size])
    train_idx = np.sort(perm[validation_size:])
    if train_limit is not None:
        train_idx = train_idx[:train_limit]
    pre = Preprocessor.fit(kind, x_all[train_idx])
    return Splits(
        x_train=pre(x_all[train_idx]),
        y_train=y_all[train_idx],
        x_val=pre(x_all[val_idx]),
        y_val=y_all[val_idx],
        x_test=pre(x_test),
        y_test=y_test.copy(),
        preprocessor=pre,
        dataset=name,
    )


# --------------------------------------------------------------------------
# tf.data
# --------------------------------------------------------------------------


def _batch_size(n: int, batch_size) -> int:
    if batch_size is None or batch_size == 0:
        return n  # full batch: batch gradient descent
    if (isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 0):
        raise ValueError(
            "batch_size must be a positive integer, or None/0 for the whole "
            f"set. Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def num_batches(n: int, batch_size, drop_remainder: bool) -> int:
    """Iterations per epoch: ``n // b`` with drop_remainder, else ceil(n / b).

    ``batch_size`` None or 0 means one batch of all ``n``.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0. Received: n={n}")
    if n == 0:
        return 0
    b = _batch_size(n, batch_size)
    return n // b if drop_remainder else -(-n // b)


def make_dataset(
    x,
    y,
    batch_size: int | None = 128,
    shuffle: bool = True,
    seed: int | None = None,
    drop_remainder: bool = False,
) -> "tf.data.Dataset":
    """A batched ``tf.data.Dataset`` of ``(x, y)``.

    Args:
        x: inputs, first axis = examples.
        y: labels, same first axis.
        batch_size: examples per iteration; 1 is SGD, None or 0 the whole
            set (batch gradient descent). Defaults to 128.
        shuffle: shuffle with a buffer of the whole set and a new order every
            epoch (``reshuffle_each_iteration=True``). Defaults to True.
        seed: makes the sequence of epoch orders reproducible. Defaults to
            None.
        drop_remainder: drop the last, smaller batch (PyTorch's
            ``drop_last``). Defaults to False.

    Returns:
        The dataset, prefetched with AUTOTUNE.
    """
    import tensorflow as tf

    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    n = int(x.shape[0])
    if n == 0 or int(y.shape[0]) != n:
        raise ValueError(
            "x and y need the same, non-zero number of examples. "
            f"Received: {n} and {int(y.shape[0])}"
        )
    b = _batch_size(n, batch_size)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(b, drop_remainder=bool(drop_remainder))
    return ds.prefetch(tf.data.AUTOTUNE)
