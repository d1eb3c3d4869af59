"""The speedrun: from a cold process to a target MNIST test accuracy as
fast as this CPU allows (``tfnn speedrun``).

Modules: ``recipes`` (what is trained, chosen on the validation split) and
``timed_seeds`` (each seed in a fresh process, timed from its start to its exit;
several trainers' seeds alternating; the per-seed table and the median).
"""

from tfnn.lazy import lazy_exports

_EXPORTS = {
    "MODULE": "tfnn.studies.speedrun.timed_seeds",
    "format_table": "tfnn.studies.speedrun.timed_seeds",
    "race": "tfnn.studies.speedrun.timed_seeds",
    "race_side_by_side": "tfnn.studies.speedrun.timed_seeds",
    "run_seed": "tfnn.studies.speedrun.timed_seeds",
    "ARCHS": "tfnn.studies.speedrun.recipes",
    "RECIPES": "tfnn.studies.speedrun.recipes",
    "check_arch": "tfnn.studies.speedrun.recipes",
    "configs": "tfnn.studies.speedrun.recipes",
    "recipe": "tfnn.studies.speedrun.recipes",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
