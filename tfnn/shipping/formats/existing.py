"""Adding formats to a published version, atomically.

A version folder already verified (its training run may be gone) gains
the extra formats from its own SavedModel: the folder is copied into a
hidden temporary folder beside it (``versions.TMP_PREFIX``, never served),
the formats are written and scored there (``build.add_formats``) and its
``metadata.json`` gains the ``formats`` section; then each new file moves
into the version folder with one ``os.replace`` (atomic on POSIX), the
metadata last. The SavedModel's own files are never touched and the
version never disappears, so a server watching the folder keeps serving
it; a reader sees the old metadata or the new one, whole. A failure
before the moves leaves the version as it was; one during them leaves
format files the metadata does not list yet, which ``tfnn verify`` names
and the next run replaces.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from tfnn.provenance import command_line
from tfnn.shipping.formats.build import add_formats
from tfnn.shipping.integrity import check_savedmodel
from tfnn.shipping.metadata import write_metadata
from tfnn.shipping.verification import VerificationError
from tfnn.shipping.versions import (
    export_temp_prefix,
    read_metadata,
    remove_stale_exports,
    resolve_version_dir,
)


def add_formats_to_version(path, formats, manual_dir=None, data_dir=None,
                           command: str | None = None) -> str:
    """Adds ``formats`` to the version at ``path`` (a version folder, or a
    model folder: its newest version) from its SavedModel.

    Formats already recorded are made again (and must score again).

    Returns:
        The version folder's path.

    Raises:
        FormatError: a missing extra or a format outside its bounds (the
            version is unchanged).
        SavedModelError: a damaged SavedModel file (named).
        VerificationError: no ``metadata.json`` to extend.
    """
    version_dir = resolve_version_dir(path)
    check_savedmodel(version_dir)
    meta = read_metadata(version_dir)
    if not meta:
        raise VerificationError(f"{version_dir} has no metadata.json")
    base = os.path.dirname(version_dir)
    remove_stale_exports(base)
    tmp = tempfile.mkdtemp(prefix=export_temp_prefix(), dir=base)
    try:
        shutil.copytree(version_dir, tmp, dirs_exist_ok=True)
        section = add_formats(tmp, formats, meta.get("dataset") or "mnist",
                              manual_dir, data_dir)
        meta["formats"] = {**(meta.get("formats") or {}), **section}
        meta["formats_command"] = command or command_line()
        write_metadata(tmp, meta)
        for name in [rec["file"] for rec in section.values()] + [
                "metadata.json"]:
            os.replace(os.path.join(tmp, name),
                       os.path.join(version_dir, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return version_dir
