"""Shipping a trained model: SavedModel export for TensorFlow Serving.

    versions      TF Serving's numbered version folders: version_number
                  (the one version parser), list_versions,
                  resolve_version_dir, read_metadata, stale export folders
    integrity     is a version folder intact: check_savedmodel,
                  load_savedmodel (SavedModelError names the file)
    metadata      the signatures' contract and metadata.json: output_kind,
                  signature_info, data checksums
    export        writing a version atomically: export_savedmodel,
                  export_run
    verification  a version must score what it records: verify,
                  predict_saved, predict_in_memory
    formats/      LiteRT (float, int8) and ONNX files beside the
                  SavedModel, each scored by its own runtime

Layout (TensorFlow Serving's)::

    saved_models/<name>/<version>/saved_model.pb
                                 /variables/
                                 /metadata.json  (tfnn's; TF Serving skips it)
                                 /model.tflite, model_int8.tflite,
                                  model.onnx  (with --formats)

The names below load on first use (PEP 562), like ``tfnn``'s own: the
server imports ``tfnn.shipping.versions`` (plain ``os``) and must not load
TensorFlow, Keras or any model code with it.
"""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "METADATA_FILE": "tfnn.shipping.versions",
    "SAVED_MODEL_FILE": "tfnn.shipping.versions",
    "SavedModelError": "tfnn.shipping.versions",
    "list_versions": "tfnn.shipping.versions",
    "read_metadata": "tfnn.shipping.versions",
    "remove_stale_exports": "tfnn.shipping.versions",
    "resolve_version_dir": "tfnn.shipping.versions",
    "version_number": "tfnn.shipping.versions",
    "check_savedmodel": "tfnn.shipping.integrity",
    "load_savedmodel": "tfnn.shipping.integrity",
    "INPUT_NAME": "tfnn.shipping.metadata",
    "OUTPUT_NAMES": "tfnn.shipping.metadata",
    "SIGNATURES": "tfnn.shipping.metadata",
    "output_kind": "tfnn.shipping.metadata",
    "signature_info": "tfnn.shipping.metadata",
    "ExportError": "tfnn.shipping.export",
    "export_run": "tfnn.shipping.export",
    "export_savedmodel": "tfnn.shipping.export",
    "score_export": "tfnn.shipping.export",
    "VerificationError": "tfnn.shipping.verification",
    "predict_saved": "tfnn.shipping.verification",
    "verify": "tfnn.shipping.verification",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
