"""Neural-network building blocks of lrcalc models: one model class of stages (:mod:`.model`)."""

from .fields import EvaluationOptions
from .model import AtomisticModel

__all__ = ["AtomisticModel", "EvaluationOptions"]
