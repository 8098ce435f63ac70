"""Small invariant heads shared by the stages."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn


class ScalarReadout(nn.Module):
    """Invariant (0e) part of the features → one number per atom, through a small MLP."""

    def __init__(self, irreps_in: o3.Irreps, hidden: int):
        super().__init__()
        self.to_hidden = o3.Linear(irreps_in, o3.Irreps(f"{hidden}x0e"))
        self.to_output = o3.Linear(o3.Irreps(f"{hidden}x0e"), o3.Irreps("1x0e"))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.to_output(torch.nn.functional.silu(self.to_hidden(features))).squeeze(-1)


def readout_width(num_features: int) -> int:
    """Hidden width of every scalar readout: half the feature channels."""
    return max(num_features // 2, 1)
