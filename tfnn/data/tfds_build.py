"""The offline tfds build: MNIST-format datasets prepared once, on disk.

The real ``mnist`` and ``fashion_mnist`` datasets of TensorFlow Datasets
(tfds), built **offline** from a folder holding the four official files
(:mod:`tfnn.data.official`). tfds writes the prepared dataset once into
``data_dir`` (argument, else ``TFNN_DATA_DIR``, else tfds's default
``~/tensorflow_datasets``), in ``<data_dir>/<name>/<version>/``; later
loads read it from there and need no folder. With a manual folder nothing
touches the network: no download, no GCS look-up. Without one, tfds
downloads only if the dataset's host is reachable; otherwise the error
says which files to put where.

Three of tfds's private names are used, each for a reason tfds offers no
public switch for: ``gcs_utils._is_gcs_disabled`` (no GCS look-up), and a
builder's ``_make_download_manager`` and its manager's ``_url_infos`` (a
re-compressed copy of the official files accepted for one build).

``tensorflow_datasets`` (and with it TensorFlow) is imported inside the
functions that build a dataset, so that importing this module stays cheap
(the folder names below need NumPy alone).
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import tempfile
import urllib.parse

from tfnn.data.official import (
    OFFICIAL_FILES,
    MissingDataError,
    absolute_path,
    check_dataset,
    check_manual_dir,
    check_official_file,
    how_to_get_files,
    resolve_manual_dir,
)

DATA_DIR_ENV = "TFNN_DATA_DIR"
# The version of each tfds builder: the folder tfds prepares and reads,
# ``<data_dir>/<name>/<version>/``, where the decoded copies are looked for
# without importing tfds (tests/test_data.py checks them against tfds's
# builders).
TFDS_VERSIONS = {"mnist": "3.0.1", "fashion_mnist": "3.0.1"}


def resolve_data_dir(data_dir=None) -> str | None:
    """The argument, else ``$TFNN_DATA_DIR``, else None (tfds's default)."""
    if data_dir is not None:
        return absolute_path(data_dir)
    return absolute_path(os.environ.get(DATA_DIR_ENV))


def tfds_data_dir(data_dir=None) -> str:
    """Where tfds keeps prepared datasets, as an absolute path:
    ``data_dir`` (or ``$TFNN_DATA_DIR``), else ``$TFDS_DATA_DIR``, else
    ``~/tensorflow_datasets`` (the rule of tfds's ``constants.DATA_DIR``)."""
    return (resolve_data_dir(data_dir)
            or absolute_path(os.environ.get("TFDS_DATA_DIR"))
            or os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def prepared_folder(name: str, data_dir=None) -> str:
    """The folder of a prepared dataset, ``<data_dir>/<name>/<version>``
    (see ``tfds_data_dir``), whether or not it exists."""
    return os.path.join(tfds_data_dir(data_dir), name, TFDS_VERSIONS[name])


def shard_files(folder, name: str, split: str) -> list[str]:
    """The sorted paths of one split's TFRecord shards in ``folder``."""
    return sorted(glob.glob(os.path.join(
        glob.escape(os.fspath(folder)), f"{name}-{split}.tfrecord*")))


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

    check_manual_dir(name, manual_dir)
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
        f"no manual folder was given ({reason}).\n" + how_to_get_files(name)
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
