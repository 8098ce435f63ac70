"""The training loss and the error metrics, from one batch's predictions and labels.

For a batch of B structures with N atoms in all, the loss is a weighted sum of mean squared errors

    L = w_E · Σ_b ((E_b − E_b^ref) / n_b)² / B          energy per atom (eV²)
      + w_F · Σ_i |F_i − F_i^ref|² / (3N)               force components (eV²/Å²)
      + w_σ · Σ_b ‖σ_b − σ_b^ref‖² / (9B)               stress components (eV²/Å⁶)
      + w_q · Σ_i (q_i − q_i^ref)² / N                  charges (e²)

In a distributed run every process holds a part of the global batch; B and N are the *global*
counts, so that the gradients summed over processes are those of one process holding it all.

Predicted energies are summed from the atomic energies in float64: the absolute DFT energies of the
data (~10⁵ eV) would otherwise lose their meV digits in a float32 sum.
"""

from __future__ import annotations

import torch

TERMS = ("energy", "forces", "stress", "charges")
UNITS = {"energy": "meV/atom", "forces": "meV/Å", "stress": "meV/Å³", "charges": "me"}
"""Units of the reported metrics (1000 × the ASE unit)."""


def predict(model, batch: dict, stress: bool, create_graph: bool) -> dict[str, torch.Tensor]:
    """Model outputs for a collated batch, plus ``energy64``: per-structure energies summed in float64."""
    out = model(batch, compute_forces=True, compute_stress=stress, create_graph=create_graph)
    out["energy64"] = torch.zeros(
        batch["num_atoms"].shape[0], dtype=torch.float64, device=out["atomic_energies"].device
    ).index_add_(0, batch["batch"], out["atomic_energies"].double())
    return out


def residuals(out: dict, batch: dict, names) -> dict[str, torch.Tensor]:
    """Prediction − reference for each label in ``names`` that the batch and the outputs both hold
    (energy per atom [B], forces [N, 3], stress [B, 3, 3], charges [N]; float64)."""
    res = {}
    if "energy" in names and "ref_energy" in batch:
        res["energy"] = (out["energy64"] - batch["ref_energy"]) / batch["num_atoms"].double()
    if "forces" in names and "ref_forces" in batch and "forces" in out:
        res["forces"] = out["forces"].double() - batch["ref_forces"]
    if "stress" in names and "ref_stress" in batch and "stress" in out:
        res["stress"] = out["stress"].double() - batch["ref_stress"]
    if "charges" in names and "ref_charges" in batch and "charges" in out:
        res["charges"] = out["charges"].double() - batch["ref_charges"]
    return res


def element_counts(num_structures: int, num_atoms: int) -> dict[str, int]:
    """How many numbers each term's mean runs over, for a batch of that size."""
    return {
        "energy": num_structures,
        "forces": 3 * num_atoms,
        "stress": 9 * num_structures,
        "charges": num_atoms,
    }


def weighted_loss(res: dict, weights: dict, counts: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Σ_t w_t · Σ(residual_t²) / counts_t over the terms with a positive weight; returns the total and
    each term's unweighted part (detached)."""
    total = None
    parts = {}
    for name, weight in weights.items():
        if weight <= 0 or name not in res:
            continue
        part = res[name].pow(2).sum() / counts[name]
        parts[name] = part.detach()
        total = weight * part if total is None else total + weight * part
    return total, parts


class ErrorSums:
    """Running sums of squared and absolute errors per label, in float64.

    ``vector()``/``from_vector()`` flatten them for one ``all_reduce`` in a distributed run.
    """

    def __init__(self):
        self.sums = {name: torch.zeros(3, dtype=torch.float64) for name in TERMS}

    def add(self, res: dict) -> None:
        for name, value in res.items():
            value = value.detach().cpu()
            self.sums[name] += torch.stack(
                [
                    value.pow(2).sum(),
                    value.abs().sum(),
                    torch.tensor(float(value.numel()), dtype=torch.float64),
                ]
            )

    def vector(self) -> torch.Tensor:
        return torch.cat([self.sums[name] for name in TERMS])

    def from_vector(self, vector: torch.Tensor) -> None:
        for k, name in enumerate(TERMS):
            self.sums[name] = vector[3 * k : 3 * k + 3].clone()

    def mse(self, name: str) -> float | None:
        squares, _, count = self.sums[name].tolist()
        return squares / count if count > 0 else None

    def metrics(self) -> dict[str, dict[str, float]]:
        """``{label: {"rmse": …, "mae": …}}`` in ASE units (eV/atom, eV/Å, eV/Å³, e) for every label
        with data."""
        out = {}
        for name in TERMS:
            squares, absolute, count = self.sums[name].tolist()
            if count > 0:
                out[name] = {"rmse": (squares / count) ** 0.5, "mae": absolute / count}
        return out

    def loss(self, weights: dict) -> float:
        """The weighted loss over everything added (every term a mean over its numbers)."""
        total = 0.0
        for name, weight in weights.items():
            mse = self.mse(name)
            if weight > 0 and mse is not None:
                total += weight * mse
        return total
