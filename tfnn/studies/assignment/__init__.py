"""Note 003's assignment: MNIST test accuracy as far as it goes, step by step.

Note 003 (Unit 06, 과제): "train on MNIST with a suitable activation, weight
initialization, optimizer … to push the accuracy as high as possible,
showing the process". The journey starts from note 000's first network
(784-64-10, sigmoid output, batch 32) with sigmoid hidden units and
changes ONE thing per stage (:data:`JOURNEY`), each stage on top of all the
earlier ones:

    baseline .. cosine_lr   the ten stages of experiment 16 (ReLU, He init,
                            Adam, logits, 256-256, BN, dropout, cosine lr)
    wider                   784-800-800-10 (Simard et al.'s 800 units)
    augment                 random shifts (±10 % of the side) and rotations
                            (±10°) of the training images, training only
    longer                  3× the epochs: augmented data keeps giving
    cnn                     [Conv3×3 → BN → ReLU → MaxPool]×2 (16, 32
                            channels) → Dense 128 → BN → ReLU → dropout
    cnn_wider               32, 64 channels
    cnn_deeper              two convolutions per block (VGG-style)

then an ensemble (the mean of the seeds' softmax outputs) for the last MLP
stage and the last CNN stages: p̄(y|x) = (1/S) Σ_s softmax(z_s(x)), and
test-time augmentation of those models and ensembles (the mean over the
3×3 one-pixel shifts of each test image, :mod:`tfnn.models.tta`).

Every choice is made on the validation split (5,000 images held out of the
training set); the test set (10,000 images) is only reported. Every stage
runs with several seeds, so a gain comes with its spread (mean ± std).

:mod:`~tfnn.studies.assignment.stages`: the journey, its modes and
    :func:`run_stages`, the engine (experiment 16 uses it too);
:mod:`~tfnn.studies.assignment.selection`: :func:`run`, the journey in
    ``quick`` or ``full`` mode, every choice made on validation;
:mod:`~tfnn.studies.assignment.plots`: its figures;
:mod:`~tfnn.studies.assignment.report`: :func:`write_report`,
    ``docs/assignment.md`` with its figures and numbers, and
    :func:`rebuild_report`, the page again from the saved numbers;
:mod:`~tfnn.studies.assignment.records`: :func:`export_records`, the best
    MLP and the best CNN (by validation accuracy) exported through the
    serving path, scored on the real test set.
"""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "plot_confusion": "tfnn.studies.assignment.plots",
    "plot_misclassified": "tfnn.studies.assignment.plots",
    "plot_stages": "tfnn.studies.assignment.plots",
    "existing_exports": "tfnn.studies.assignment.records",
    "export_records": "tfnn.studies.assignment.records",
    "rebuild_report": "tfnn.studies.assignment.report",
    "write_report": "tfnn.studies.assignment.report",
    "run": "tfnn.studies.assignment.selection",
    "FULL": "tfnn.studies.assignment.stages",
    "JOURNEY": "tfnn.studies.assignment.stages",
    "JOURNEY_NAMES": "tfnn.studies.assignment.stages",
    "MODES": "tfnn.studies.assignment.stages",
    "QUICK": "tfnn.studies.assignment.stages",
    "WHY": "tfnn.studies.assignment.stages",
    "run_stages": "tfnn.studies.assignment.stages",
    "stage_configs": "tfnn.studies.assignment.stages",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
