"""Neural-network building blocks of lrcalc models."""

from .base import AtomisticModel
from .short_range import ShortRangeModel

__all__ = ["AtomisticModel", "ShortRangeModel"]
