"""Small invariant heads shared by the stages."""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn


def _single_scalar_path(linear: o3.Linear) -> tuple[slice, float] | None:
    """(input columns, factor) when ``linear`` maps one 0e input block to its 0e output by one
    weight matrix (``x[:, columns] @ W * factor``, W = ``linear.weight`` as [mul_in, mul_out]);
    ``None`` for any other layout (e3nn then runs it)."""
    if getattr(linear, "bias", torch.zeros(0)).numel() or len(linear.instructions) != 1:
        return None
    if len(linear.irreps_out) != 1 or linear.irreps_out[0].ir != o3.Irrep("0e"):
        return None
    ins = linear.instructions[0]
    if linear.irreps_in[ins.i_in].ir != o3.Irrep("0e"):
        return None
    return linear.irreps_in.slices()[ins.i_in], float(ins.path_weight)


class ScalarReadout(nn.Module):
    """Invariant (0e) part of the features → one number per atom, through a small MLP.

    Both maps act on scalars only; when each is one weight matrix (the usual layout) they run as two
    plain matmuls on e3nn's own weights (35 → 10 operations forward on a 46-atom step, the same
    numbers; ``tests/test_convolution.py`` compares with e3nn), else through e3nn.
    """

    def __init__(self, irreps_in: o3.Irreps, hidden: int):
        super().__init__()
        self.to_hidden = o3.Linear(irreps_in, o3.Irreps(f"{hidden}x0e"))
        self.to_output = o3.Linear(o3.Irreps(f"{hidden}x0e"), o3.Irreps("1x0e"))
        self.fast = True
        paths = (_single_scalar_path(self.to_hidden), _single_scalar_path(self.to_output))
        self._paths = None if None in paths else paths

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.fast and self._paths is not None:
            (columns, first), (_, second) = self._paths
            w1 = self.to_hidden.weight.view(columns.stop - columns.start, -1)
            hidden = torch.nn.functional.silu((features[:, columns] @ w1) * first)
            return (hidden @ self.to_output.weight.view(-1, 1)).squeeze(-1) * second
        return self.to_output(torch.nn.functional.silu(self.to_hidden(features))).squeeze(-1)


def readout_width(num_features: int) -> int:
    """Hidden width of every scalar readout: half the feature channels."""
    return max(num_features // 2, 1)
