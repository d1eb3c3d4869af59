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

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "Splits": "tfnn.data.pipeline",
    "load": "tfnn.data.pipeline",
    "make_dataset": "tfnn.data.pipeline",
    "num_batches": "tfnn.data.pipeline",
    "prefetch": "tfnn.data.pipeline",
    "split_arrays": "tfnn.data.pipeline",
    "PREPROCESSING": "tfnn.data.preprocessing",
    "Preprocessor": "tfnn.data.preprocessing",
    "CorruptDataError": "tfnn.data.official",
    "DATASETS": "tfnn.data.official",
    "DATA_DIR_ENV": "tfnn.data.tfds_build",
    "MANUAL_DIR_ENV": "tfnn.data.official",
    "MissingDataError": "tfnn.data.official",
    "OFFICIAL_FILES": "tfnn.data.official",
    "TFDS_VERSIONS": "tfnn.data.tfds_build",
    "check_official_file": "tfnn.data.official",
    "clear_cache": "tfnn.data.loading",
    "load_arrays": "tfnn.data.loading",
    "prepare": "tfnn.data.tfds_build",
    "read_decoded": "tfnn.data.decoded",
    "read_official": "tfnn.data.official",
    "resolve_manual_dir": "tfnn.data.official",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
