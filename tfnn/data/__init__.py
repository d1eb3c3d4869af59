"""MNIST-format data, input preprocessing and the tf.data input pipeline.

    sources        the offline tfds build from the manual folder, its
                   checksums, ``prepare`` and ``load_arrays``; the
                   official files read directly (``read_official``);
                   the decoded copies read without tfds (``read_decoded``)
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
from tfnn.data.sources import (
    DATA_DIR_ENV,
    DATASETS,
    MANUAL_DIR_ENV,
    NUM_CLASSES,
    OFFICIAL_FILES,
    SPLITS,
    TFDS_VERSIONS,
    CorruptDataError,
    MissingDataError,
    check_dataset,
    check_official_file,
    clear_cache,
    load_arrays,
    prepare,
    read_decoded,
    read_official,
    resolve_data_dir,
    resolve_manual_dir,
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
