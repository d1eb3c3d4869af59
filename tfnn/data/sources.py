"""Where MNIST-format data comes from: the offline tfds build and its checks.

The real ``mnist`` and ``fashion_mnist`` datasets of TensorFlow Datasets
(tfds), built **offline** from a folder holding the four official files
(``OFFICIAL_FILES``). The folder is given by the user: the ``manual_dir``
argument (``--manual-dir`` on the command line) or the ``TFNN_MANUAL_DIR``
environment variable. tfds writes the prepared dataset once into
``data_dir`` (argument, else ``TFNN_DATA_DIR``, else tfds's default
``~/tensorflow_datasets``); later loads read it from there and need no
folder. With a manual folder nothing touches the network: no download, no
GCS look-up. Without one, tfds downloads only if the dataset's host is
reachable; otherwise the error says which files to put where.

MNIST's files: http://yann.lecun.com/exdb/mnist/. Fashion-MNIST's files
(same names and format): the Debian package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/``) or
https://github.com/zalandoresearch/fashion-mnist. Every file is checked
before it is decompressed (``check_official_file``): its ``.gz`` must have
the official SHA-256 (tfds's registered checksums, recorded below), or, for
a re-compressed copy such as Debian's (whose gzip headers differ), its
decompressed content must have the SHA-256 of the official idx file. A
truncated or corrupted file is named in one line (``CorruptDataError``), as
is a damaged prepared dataset: without a manual folder the error says how
to rebuild it; with one it is rebuilt from the official files.

Images come back as ``uint8 (N, 28, 28)`` and labels as ``int64 (N,)``, in
tfds's order (a fixed shuffle of the files' order): 60,000 train and 10,000
test examples.

``tensorflow_datasets`` (and with it TensorFlow) is imported inside the
functions that build or read a dataset, so that ``import tfnn.data`` stays
cheap (the CLI's ``--help``, the checksums recorded by an export).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import gzip
import logging
import os
import shutil
import socket
import tempfile
import urllib.parse
import zlib

import numpy as np

from tfnn.provenance import sha256

logger = logging.getLogger(__name__)

DATASETS = ("mnist", "fashion_mnist")
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
# The version of each tfds builder: the folder tfds prepares and reads,
# ``<data_dir>/<name>/<version>/``, where ``read_decoded`` looks without
# importing tfds (tests/test_data.py checks them against tfds's builders).
TFDS_VERSIONS = {"mnist": "3.0.1", "fashion_mnist": "3.0.1"}

_SOURCES = {
    "mnist": "MNIST: http://yann.lecun.com/exdb/mnist/ (the files tfds "
    "downloads from https://storage.googleapis.com/cvdf-datasets/mnist/)",
    "fashion_mnist": "Fashion-MNIST: the Debian package "
    "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) puts them "
    "in /usr/share/datasets/fashion-mnist/; upstream "
    "https://github.com/zalandoresearch/fashion-mnist",
}

# SHA-256 and size of the official .gz files: tfds's registered checksums
# (tensorflow_datasets/url_checksums/{mnist,fashion_mnist}.txt).
_GZ_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea37026"
                                       "5605f56be210a4024d2ca8f203523609",
                                       9912422),
        "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cc"
                                       "a23d567ec52cac8be1a0730e8010255c",
                                       28881),
        "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e3"
                                      "3eeafee792b84584aec276f5a2dbc4e6",
                                      1648877),
        "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd"
                                      "2371eca3ffa0defaefb259924204aec6",
                                      4542),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": ("3aede38d61863908ad78613f6a32ed27"
                                       "1626dd12800ba2636569512369268a84",
                                       26421880),
        "train-labels-idx1-ubyte.gz": ("a04f17134ac03560a47e3764e11b92fc"
                                       "97de4d1bfaf8ba1a3aa29af54cc90845",
                                       29515),
        "t10k-images-idx3-ubyte.gz": ("346e55b948d973a97e58d2351dde16a4"
                                      "84bd415d4595297633bb08f03db6a073",
                                      4422102),
        "t10k-labels-idx1-ubyte.gz": ("67da17c76eaffca5446c3361aaab5c3c"
                                      "d6d1c2608764d35dfb1850b086bf8dd5",
                                      5148),
    },
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


class CorruptDataError(ValueError):
    """A file of the manual folder or of the prepared dataset is damaged;
    the message (one line) names it and says what to do."""


# --------------------------------------------------------------------------
# Names and paths
# --------------------------------------------------------------------------


def check_dataset(dataset: str) -> str:
    """The registered key of ``dataset`` (case and ``-`` folded).

    Raises:
        ValueError: naming the unknown dataset and the valid ones.
    """
    key = str(dataset).lower().replace("-", "_")
    if key not in DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}; choose from {sorted(DATASETS)}"
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


def resolve_data_dir(data_dir=None) -> str | None:
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


_DOWNLOADS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion_mnist": "the Debian package dataset-fashion-mnist or "
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


def _gzip_problem(err: BaseException) -> str:
    if isinstance(err, EOFError):
        return "truncated: its gzip stream ends early"
    if "CRC check failed" in str(err):
        return "corrupted: its gzip CRC check failed"
    return f"not a readable gzip file: {err}"


def check_official_file(dataset: str, path, registered=None
                        ) -> dict[str, str]:
    """Checks one of the four official files, before decompressing it.

    The SHA-256 of the ``.gz`` is compared with the official one first (the
    table above, or ``registered``: tfds's); only a file that differs is
    decompressed: a re-compressed copy (Debian's) must hold the official
    idx bytes.

    Args:
        dataset: one of ``DATASETS``.
        path: the file, named as in ``OFFICIAL_FILES``.
        registered: another accepted SHA-256 of the ``.gz``. Optional.

    Returns:
        ``{"sha256": of the .gz, "idx_sha256": of its content}``.

    Raises:
        CorruptDataError: the file is truncated or corrupted (one line:
            which file, what is wrong, where to get it again).
        ValueError: a readable file that is not the official one.
    """
    name = check_dataset(dataset)
    path = os.fspath(path)
    fname = os.path.basename(path)
    official_gz, official_size = _GZ_SHA256[name][fname]
    official_idx = _IDX_SHA256[name][fname]
    gz_sha = sha256(path)
    if gz_sha in (official_gz, registered):
        return {"sha256": gz_sha, "idx_sha256": official_idx}
    try:
        idx_sha = sha256(path, opener=gzip.open)
    except (EOFError, OSError, zlib.error) as err:
        raise CorruptDataError(
            f"{path} is damaged ({_gzip_problem(err)}; "
            f"{os.path.getsize(path)} bytes, the official file has "
            f"{official_size} bytes and SHA-256 {official_gz}): download it "
            f"again from {_DOWNLOADS[name]}") from None
    if idx_sha == official_idx:
        logger.info("%s: re-compressed copy of the official %s file "
                    "(same idx content)", path, name)
        return {"sha256": gz_sha, "idx_sha256": idx_sha}
    owner = [n for n, table in _IDX_SHA256.items()
             if table.get(fname) == idx_sha]
    what = f"it is {owner[0]}'s" if owner else "unknown content"
    raise ValueError(
        f"{path} is not the official {name} file ({what}; SHA-256 of "
        f"the .gz {gz_sha}, expected {official_gz}).\n"
        + _how_to_get_files(name)
    )


def _manual_url_infos(builder, name: str, manual_dir: str) -> dict:
    """Checks the manual files; returns url infos for re-compressed copies.

    Every file goes through ``check_official_file``. One whose .gz has
    tfds's registered checksum needs nothing; a re-compressed copy is
    accepted by registering its own .gz checksum for this build only.
    """
    from tensorflow_datasets.core.download import checksums

    registered = {
        info.filename: (url, info)
        for url, info in (builder.url_infos or {}).items()
    }
    accepted = {}
    for fname in OFFICIAL_FILES:
        path = os.path.join(manual_dir, fname)
        url, expected = registered.get(fname, (None, None))
        sums = check_official_file(
            name, path, expected.checksum if expected else None)
        if url is not None and sums["sha256"] != expected.checksum:
            accepted[url] = checksums.UrlInfo(
                size=os.path.getsize(path), checksum=sums["sha256"],
                filename=fname,
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

    name = check_dataset(dataset)
    manual_dir = resolve_manual_dir(manual_dir)
    data_dir = resolve_data_dir(data_dir)
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
    name = check_dataset(dataset)
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose from {list(SPLITS)}")
    return _load_arrays_cached(
        name, split, resolve_manual_dir(manual_dir), resolve_data_dir(data_dir)
    )


def clear_cache() -> None:
    """Forgets the arrays ``load_arrays`` keeps in this process.

    The next ``load_arrays`` reads its split again, as a new process does
    (from the decoded copy on disk, else through tfds); the files on disk
    are left as they are.
    """
    _load_arrays_cached.cache_clear()


def read_official(dataset: str = "mnist", split: str = "train",
                  manual_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """One split straight from the official idx files, without tfds (and
    without TensorFlow): what a PyTorch user's loader (torchvision) reads.
    The benchmark's PyTorch rows load MNIST this way, so their processes do
    not pay for TensorFlow's import.

    The idx format: a big-endian header (magic, then one ``uint32`` per
    dimension), then the ``uint8`` values; the files' order, which is not
    tfds's (tfds shuffles the examples when it prepares them).

    Returns:
        ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    Raises:
        MissingDataError: no manual folder, or a file missing from it.
    """
    name = check_dataset(dataset)
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose from {list(SPLITS)}")
    folder = resolve_manual_dir(manual_dir)
    if folder is None:
        raise MissingDataError(_how_to_get_files(name))
    _check_manual_dir(name, folder)
    prefix = "train" if split == "train" else "t10k"
    arrays = []
    for kind, dims in (("images", 3), ("labels", 1)):
        path = os.path.join(folder, f"{prefix}-{kind}-idx{dims}-ubyte.gz")
        with gzip.open(path, "rb") as f:
            raw = f.read()
        shape = np.frombuffer(raw, ">u4", count=dims, offset=4)
        arrays.append(np.frombuffer(raw, np.uint8, offset=4 + 4 * dims)
                      .reshape(tuple(int(d) for d in shape)))
    return arrays[0], arrays[1].astype(np.int64)


def _read_split(builder, split):
    """``(images (N, 28, 28, 1) uint8, labels (N,) int64)`` of a prepared
    split, from its decoded cache when that matches the shards, else
    decoded by tfds (and the cache written for the next process)."""
    import tensorflow_datasets as tfds

    folder = os.fspath(builder.data_dir)
    arrays = _read_decoded(folder, builder.name, split)
    if arrays is not None:
        return arrays
    ds = builder.as_dataset(split=split, batch_size=-1, as_supervised=True)
    images, labels = tfds.as_numpy(ds)
    cache, stamp = _decoded_cache(folder, builder.name, split)
    _write_decoded(cache, stamp, images, labels)
    return images, labels


def _decoded_cache(folder, name, split) -> tuple[str, str]:
    """The decoded split's cache file in a prepared dataset's ``folder``,
    and the stamp it must carry: the name, size and modification time of
    every shard, so a rebuilt or changed shard is decoded afresh.

    tfds stores each MNIST image as a PNG; decoding 70,000 of them takes
    seconds on every start (most of what ``tfnn speedrun`` waits for
    before the first step). The cache (``tfnn-decoded-<split>.npz``, 55 MB
    for the train split) is read in milliseconds.
    """
    shards = sorted(glob.glob(os.path.join(
        glob.escape(folder), f"{name}-{split}.tfrecord*")))
    stamp = ";".join(f"{os.path.basename(p)}:{os.stat(p).st_size}:"
                     f"{os.stat(p).st_mtime_ns}" for p in shards)
    return os.path.join(folder, f"tfnn-decoded-{split}.npz"), stamp


def _read_decoded(folder, name, split):
    """``(images, labels)`` from ``folder``'s decoded cache when its stamp
    matches the shards there; None when it is absent, stale or unreadable
    (or there are no shards, or they vanish while being looked at)."""
    try:
        cache, stamp = _decoded_cache(folder, name, split)
        if not stamp:
            return None
        with np.load(cache, allow_pickle=False) as saved:
            if str(saved["stamp"]) == stamp:
                return saved["images"], saved["labels"]
    except Exception:  # absent, stale or unreadable: decode again
        pass
    return None


def tfds_data_dir(data_dir=None) -> str:
    """Where tfds keeps prepared datasets, as an absolute path:
    ``data_dir`` (or ``$TFNN_DATA_DIR``), else ``$TFDS_DATA_DIR``, else
    ``~/tensorflow_datasets`` (the rule of tfds's ``constants.DATA_DIR``)."""
    return (resolve_data_dir(data_dir)
            or _path_or_none(os.environ.get("TFDS_DATA_DIR"))
            or os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def read_decoded(dataset: str = "mnist", split: str = "train",
                 data_dir=None):
    """A prepared split read from its decoded cache alone: no tfds, no
    TensorFlow. The cold start's shortcut: ``load_arrays`` tries it first,
    and a process can run it on a thread while TensorFlow imports
    (:func:`tfnn.data.prefetch`).

    The prepared dataset is the folder tfds reads,
    ``<data_dir>/<dataset>/<version>/`` with tfds's ``dataset_info.json``
    (``TFDS_VERSIONS``; :func:`tfds_data_dir`).

    Returns:
        ``(images uint8 (N, 28, 28), labels int64 (N,))``, or None when
        the dataset is not prepared, or its cache is absent, stale or
        unreadable (then ``load_arrays`` asks tfds).
    """
    name = check_dataset(dataset)
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose from {list(SPLITS)}")
    folder = os.path.join(tfds_data_dir(data_dir), name, TFDS_VERSIONS[name])
    if not os.path.isfile(os.path.join(folder, "dataset_info.json")):
        return None
    arrays = _read_decoded(folder, name, split)
    return None if arrays is None else _as_split(*arrays)


def _as_split(images, labels):
    """``uint8 (N, 28, 28)`` images and ``int64 (N,)`` labels, read-only
    (shared by every caller)."""
    images = np.ascontiguousarray(images.reshape(images.shape[:3]),
                                  dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _write_decoded(path, stamp, images, labels) -> None:
    """Writes the cache atomically; a read-only dataset folder is fine
    (the next start decodes again)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, stamp=np.array(stamp), images=images, labels=labels)
        os.replace(tmp, path)
    except OSError as err:
        logger.debug("no decoded cache at %s: %s", path, err)
        with contextlib.suppress(OSError):
            os.remove(tmp)


def _damaged(builder, name, split, err) -> str:
    """What is damaged in a prepared dataset, in one line."""
    folder = os.fspath(builder.data_dir)
    shards = sorted(os.path.basename(p) for p in glob.glob(os.path.join(
        glob.escape(folder), f"{name}-{split}.tfrecord*")))
    reason = " ".join(str(getattr(err, "message", err)).split())
    reason = reason.split("}} ", 1)[-1].split(" [Op:", 1)[0]  # TF's noise
    return (f"The prepared {name} dataset in {folder} is damaged ({reason}; "
            f"its {split} split: {', '.join(shards) or 'no shard files'})")


def _rebuild(builder, name, split, manual_dir, data_dir, err):
    """Rebuilds a damaged prepared dataset from the manual folder; without
    one, raises ``CorruptDataError`` saying how."""
    folder = os.fspath(builder.data_dir)
    damaged = _damaged(builder, name, split, err)
    if manual_dir is None or not os.path.isfile(
            os.path.join(folder, "dataset_info.json")):
        raise CorruptDataError(
            f"{damaged}: delete {folder} and run again with --manual-dir "
            f"PATH (or {MANUAL_DIR_ENV}=PATH) to rebuild it from the four "
            "official files") from None
    logger.warning("%s; rebuilding it from %s", damaged, manual_dir)
    shutil.rmtree(folder)
    return prepare(name, manual_dir=manual_dir, data_dir=data_dir)


@functools.lru_cache(maxsize=8)
def _load_arrays_cached(name, split, manual_dir, data_dir):
    arrays = read_decoded(name, split, data_dir)
    if arrays is not None:
        return arrays
    import tensorflow as tf

    builder = prepare(name, manual_dir=manual_dir, data_dir=data_dir)
    try:
        images, labels = _read_split(builder, split)
    except (tf.errors.DataLossError, tf.errors.NotFoundError) as err:
        builder = _rebuild(builder, name, split, manual_dir, data_dir, err)
        images, labels = _read_split(builder, split)
    return _as_split(images, labels)
