"""The speedrun: from a cold process to a target MNIST test accuracy as
fast as this CPU allows (``tfnn speedrun``).

Modules: ``recipes`` (what is trained, chosen on the validation split) and
``timed_seeds`` (each seed in a fresh process, timed from its start to its exit;
several trainers' seeds alternating; the per-seed table and the median).
"""

from tfnn.studies.speedrun.recipes import (
    ARCHS,
    RECIPES,
    check_arch,
    configs,
    recipe,
)
from tfnn.studies.speedrun.timed_seeds import (
    MODULE,
    format_table,
    race,
    race_side_by_side,
    run_seed,
)

__all__ = ["ARCHS", "MODULE", "RECIPES", "check_arch", "configs",
           "format_table", "race", "race_side_by_side", "recipe", "run_seed"]
