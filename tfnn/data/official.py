"""MNIST and Fashion-MNIST's four official files: names, checks, reader.

The datasets (``DATASETS``) and their splits, the four official files of
each (``OFFICIAL_FILES``) with their SHA-256, and the folder that holds
them: the ``manual_dir`` argument (``--manual-dir`` on the command line),
else the ``TFNN_MANUAL_DIR`` environment variable.

MNIST's files: http://yann.lecun.com/exdb/mnist/. Fashion-MNIST's files
(same names and format): the Debian package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/``) or
https://github.com/zalandoresearch/fashion-mnist. Every file is checked
before it is decompressed (``check_official_file``): its ``.gz`` must have
the official SHA-256 (tfds's registered checksums, recorded below), or, for
a re-compressed copy such as Debian's (whose gzip headers differ), its
decompressed content must have the SHA-256 of the official idx file. A
truncated or corrupted file is named in one line (``CorruptDataError``).

``read_official`` reads a split straight from the files, in their order,
with NumPy alone.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib

import numpy as np

from tfnn.provenance import sha256
from tfnn.registry import check_key

logger = logging.getLogger(__name__)

DATASETS = ("mnist", "fashion_mnist")
MANUAL_DIR_ENV = "TFNN_MANUAL_DIR"
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


_DOWNLOADS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion_mnist": "the Debian package dataset-fashion-mnist or "
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


class MissingDataError(FileNotFoundError):
    """The dataset is neither prepared nor buildable from what was given."""


class CorruptDataError(ValueError):
    """A file of the manual folder or of the prepared dataset is damaged;
    the message (one line) names it and says what to do."""


def check_dataset(dataset: str) -> str:
    """The registered key of ``dataset`` (case and ``-`` folded).

    Raises:
        ValueError: naming the unknown dataset and the valid ones.
    """
    return check_key(dataset, DATASETS, "dataset")


def check_split(split: str) -> str:
    """``split`` when it is one of ``SPLITS``.

    Raises:
        ValueError: naming the unknown split and the valid ones.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose from {list(SPLITS)}")
    return split


def absolute_path(value) -> str | None:
    """``value`` as an absolute path (``~`` expanded); None for None or
    an empty string."""
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
        return absolute_path(manual_dir)
    return absolute_path(os.environ.get(MANUAL_DIR_ENV))


def how_to_get_files(name: str) -> str:
    """Which files to put in which folder, and where they come from."""
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


def check_manual_dir(name: str, manual_dir: str) -> None:
    """Raises ``MissingDataError`` unless ``manual_dir`` holds the four
    official files (by name; their content is checked before use)."""
    if not os.path.isdir(manual_dir):
        raise MissingDataError(
            f"The manual folder {manual_dir} does not exist.\n"
            + how_to_get_files(name)
        )
    missing = [
        f for f in OFFICIAL_FILES
        if not os.path.isfile(os.path.join(manual_dir, f))
    ]
    if missing:
        raise MissingDataError(
            f"The manual folder {manual_dir} lacks {len(missing)} of the four "
            f"official {name} files: {', '.join(missing)}.\n"
            + how_to_get_files(name)
        )


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
        + how_to_get_files(name)
    )


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
    check_split(split)
    folder = resolve_manual_dir(manual_dir)
    if folder is None:
        raise MissingDataError(how_to_get_files(name))
    check_manual_dir(name, folder)
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
