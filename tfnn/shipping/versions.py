"""TensorFlow Serving's numbered version folders.

A model's base folder holds one folder per version, named by a positive
integer in ASCII digits (``version_number``: the one parser of version
labels, for folder names, URLs and flags alike); TF Serving serves the
highest (its default version policy) and skips every other name::

    saved_models/<name>/<version>/saved_model.pb
                                 /variables/
                                 /metadata.json  (tfnn's; TF Serving skips it)

An export writes into a hidden ``TMP_PREFIX`` folder (not a number, so
never served), named after its process (``export_temp_prefix``), and
renames it to ``<version>/`` when it is complete. An export that was killed
leaves its folder behind; the next export removes it
(``remove_stale_exports``).

Reference: TensorFlow Serving, "Serving a TensorFlow Model" (one
sub-folder per version, https://www.tensorflow.org/tfx/serving/serving_basic)
and its ``FileSystemStoragePathSource`` (numbered folders, latest version).

Plain ``os`` and ``json``: the server (``tfnn.serving``) reads version
folders through this module without loading any export code.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import time
from typing import Any

logger = logging.getLogger(__name__)

SAVED_MODEL_FILE = "saved_model.pb"
METADATA_FILE = "metadata.json"  # tfnn's notes beside the SavedModel
TMP_PREFIX = ".tmp-export-"  # not a number: TF Serving skips it
MAX_VERSION = 2**63 - 1  # TF Serving's versions are int64
STALE_EXPORT_SECONDS = 15 * 60  # age of an ownerless temporary folder

_ASCII_DIGITS = re.compile(r"[0-9]+")
# .tmp-export-<pid>@<host>-<random>: the process that writes it.
_TMP_OWNER = re.compile(re.escape(TMP_PREFIX) + r"([0-9]+)@([A-Za-z0-9_.]*)-")


class SavedModelError(ValueError):
    """A file of a version folder is missing or damaged; the message (one
    line) names it and says what to do."""


def version_number(text) -> int | None:
    """``text`` as a version number, or None when it is not one.

    A version is written in ASCII digits, 1 to ``MAX_VERSION``:
    ``re.fullmatch(r"[0-9]+", text)``. (``str.isdigit`` and ``int`` also
    take "²", "١" or "１".) Folder names, URLs and command-line flags are
    all read with this function.

    Returns:
        The version, or None.
    """
    if not isinstance(text, str) or not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_VERSION else None


def list_versions(base_dir) -> list[int]:
    """Version numbers under a model base folder, ascending.

    A version is a folder named by a version number (``version_number``,
    written without leading zeros: "01" would name version 1 a second
    time) holding a ``saved_model.pb`` (TF Serving's rule; temporary
    folders and other names don't count).

    Returns:
        The versions; ``[]`` when ``base_dir`` is missing or not a folder.

    Raises:
        OSError: the folder exists but cannot be listed (permissions).
    """
    try:
        entries = list(os.scandir(base_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    versions = []
    for entry in entries:
        version = version_number(entry.name)
        if version is None or str(version) != entry.name:
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir and os.path.isfile(os.path.join(entry.path,
                                                  SAVED_MODEL_FILE)):
            versions.append(version)
    return sorted(versions)


def resolve_version_dir(path) -> str:
    """``path`` itself when it holds a SavedModel, else its highest version.

    Raises:
        FileNotFoundError: neither a SavedModel nor a model base folder.
    """
    path = os.fspath(path)
    if os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
        return path
    versions = list_versions(path)
    if not versions:
        raise FileNotFoundError(
            f"{path} holds no SavedModel ({SAVED_MODEL_FILE}) and no version "
            f"folders (1/, 2/ … with a {SAVED_MODEL_FILE})"
        )
    return os.path.join(path, str(versions[-1]))


def read_metadata(version_dir) -> dict[str, Any]:
    """The ``metadata.json`` of a version folder ({} when there is none).

    Raises:
        SavedModelError: the file exists but is not a JSON object (a
            ``ValueError``; the message names the file).
        OSError: the file cannot be read.
    """
    path = os.path.join(os.fspath(version_dir), METADATA_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        meta = json.loads(raw)
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise SavedModelError(
            f"{path} is not valid JSON ({err}); restore it, or export the "
            "version again") from None
    if not isinstance(meta, dict):
        raise SavedModelError(
            f"{path} is not a JSON object; restore it, or export the "
            "version again")
    return meta


# --------------------------------------------------------------------------
# Temporary folders of exports
# --------------------------------------------------------------------------


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())


def export_temp_prefix() -> str:
    """``.tmp-export-<pid>@<host>-``: the prefix of this process's
    temporary export folders (``tempfile.mkdtemp`` adds a random part)."""
    return f"{TMP_PREFIX}{os.getpid()}@{_host()}-"


def _owner_running(name: str) -> bool | None:
    """Whether the export that named temporary folder ``name`` still runs;
    None when that cannot be told (no owner in the name, another host)."""
    match = _TMP_OWNER.match(name)
    if match is None or match.group(2) != _host():
        return None
    pid = int(match.group(1))
    if pid == os.getpid():
        return True  # this process's own (another thread's export)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's running process
    return True


def remove_stale_exports(base_dir,
                         max_age: float = STALE_EXPORT_SECONDS) -> list[str]:
    """Removes the temporary folders of exports that died (SIGKILL, power
    loss) from a model's base folder.

    A folder is stale when the process named in it (``export_temp_prefix``)
    is not running on this host, or, when its owner cannot be told (an
    older tfnn, another host), when it is older than ``max_age`` seconds.

    Args:
        base_dir: the model's base folder.
        max_age: see above. Defaults to 15 minutes.

    Returns:
        The paths removed.
    """
    try:
        entries = [e for e in os.scandir(base_dir)
                   if e.name.startswith(TMP_PREFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for entry in entries:
        running = _owner_running(entry.name)
        if running is None:
            try:
                running = time.time() - entry.stat().st_mtime < max_age
            except FileNotFoundError:
                continue  # its owner just published or removed it
        if not running:
            shutil.rmtree(entry.path, ignore_errors=True)
            logger.info("removed %s, left by an export that died",
                        entry.path)
            removed.append(entry.path)
    return removed
