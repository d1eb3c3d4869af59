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
    "CorruptDataError": "tfnn.data.sources",
    "DATASETS": "tfnn.data.sources",
    "DATA_DIR_ENV": "tfnn.data.sources",
    "MANUAL_DIR_ENV": "tfnn.data.sources",
    "MissingDataError": "tfnn.data.sources",
    "OFFICIAL_FILES": "tfnn.data.sources",
    "TFDS_VERSIONS": "tfnn.data.sources",
    "check_official_file": "tfnn.data.sources",
    "load_arrays": "tfnn.data.sources",
    "prepare": "tfnn.data.sources",
    "read_decoded": "tfnn.data.sources",
    "read_official": "tfnn.data.sources",
    "resolve_manual_dir": "tfnn.data.sources",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
