"""MNIST-format data, input preprocessing and the tf.data input pipeline.

    official       the datasets, their four official files, checksums and
                   checks (``check_official_file``); the files read
                   directly (``read_official``)
    tfds_build     ``prepare``: the offline tfds build from the manual
                   folder, into ``tfds_data_dir``
    decoded        the decoded copies beside the shards, verified against
                   the official content and read without tfds
                   (``read_decoded``)
    loading        ``load_arrays`` (decoded copy, else tfds; a damaged
                   dataset rebuilt or named), ``clear_cache``
    preprocessing  ``Preprocessor``: raw, minmax, standardize (notes 001, 004)
    pipeline       ``load`` (``split_arrays``) → ``Splits``; ``prefetch``
                   (``load`` on a thread while TensorFlow imports);
                   ``make_dataset``, ``num_batches``
    arrays         ``aligned_empty``, ``as_tensor``: arrays TensorFlow
                   takes without a copy

``import tfnn.data`` is cheap by design: NumPy only. TensorFlow and
tensorflow_datasets are imported inside the functions that need them
(building or reading a dataset, ``Preprocessor.apply_tf``,
``make_dataset``), so the CLI's ``--help`` and code that only reads the
names below never wait for TensorFlow.
"""

from tfnn.data.decoded import read_decoded
from tfnn.data.loading import clear_cache, load_arrays
from tfnn.data.official import (
    DATASETS,
    MANUAL_DIR_ENV,
    NUM_CLASSES,
    OFFICIAL_FILES,
    SPLITS,
    CorruptDataError,
    MissingDataError,
    check_dataset,
    check_official_file,
    read_official,
    resolve_manual_dir,
)
from tfnn.data.pipeline import (
    Splits,
    load,
    make_dataset,
    num_batches,
    prefetch,
    split_arrays,
)
from tfnn.data.preprocessing import (
    PREPROCESSING,
    Preprocessor,
    check_preprocessing,
)
from tfnn.data.tfds_build import (
    DATA_DIR_ENV,
    TFDS_VERSIONS,
    prepare,
    resolve_data_dir,
    tfds_data_dir,
)

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "MANUAL_DIR_ENV",
    "NUM_CLASSES",
    "OFFICIAL_FILES",
    "PREPROCESSING",
    "SPLITS",
    "TFDS_VERSIONS",
    "CorruptDataError",
    "MissingDataError",
    "Preprocessor",
    "Splits",
    "check_dataset",
    "check_official_file",
    "check_preprocessing",
    "clear_cache",
    "load",
    "load_arrays",
    "make_dataset",
    "num_batches",
    "prefetch",
    "prepare",
    "read_decoded",
    "read_official",
    "resolve_data_dir",
    "resolve_manual_dir",
    "split_arrays",
    "tfds_data_dir",
]
