"""What a run records: per-epoch metrics and per-step training losses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# The per-epoch fields, in the order a run fills them.
EPOCH_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                "learning_rate", "seconds")


@dataclass
class History:
    """Per-epoch metrics (and per-step training losses) of a run."""

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)

    def append(self, **values):
        """Append one value to each named list."""
        for key, value in values.items():
            getattr(self, key).append(value)

    def extend(self, other: History) -> None:
        """Append every list of ``other`` to this one's (in place): a
        resumed run's history is the restored one, then the new epochs."""
        for f in dataclasses.fields(self):
            getattr(self, f.name).extend(getattr(other, f.name))

    def to_dict(self) -> dict[str, list[float]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d) -> History:
        return cls(**{k: list(v) for k, v in d.items()})
