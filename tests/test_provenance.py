"""tfnn.provenance: the versions and checksums a result records."""

import gzip
import hashlib
import platform

import keras
import numpy as np
import tensorflow as tf

import tfnn
from tfnn.provenance import sha256, versions


def test_versions_names_the_stack_and_leaves_out_what_is_missing():
    found = versions(extra=("no_such_package_here", "numpy"))
    assert found == {"tfnn": tfnn.__version__, "tensorflow": tf.__version__,
                     "keras": keras.__version__, "numpy": np.__version__,
                     "python": platform.python_version()}


def test_sha256_reads_the_file_or_its_decompressed_content(tmp_path):
    data = bytes(range(256)) * 5000  # > one 1 MiB block
    (tmp_path / "a.bin").write_bytes(data)
    with gzip.open(tmp_path / "a.gz", "wb") as fh:
        fh.write(data)
    want = hashlib.sha256(data).hexdigest()
    assert sha256(str(tmp_path / "a.bin")) == want
    assert sha256(str(tmp_path / "a.gz"), opener=gzip.open) == want
