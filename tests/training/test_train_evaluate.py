"""``lrcalc evaluate`` and the loss: numbers equal a hand computation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ase.io import read

import lrcalc
from lrcalc.cli import main
from lrcalc.nn.model import AtomisticModel
from lrcalc.training.evaluate import evaluate
from lrcalc.training.loss import element_counts, residuals, weighted_loss


class WithCharges(AtomisticModel):
    """A stand-in for a charge-predicting model: the tiny model's stages plus q_i = 0.1 tanh(E_i),
    declared in its outputs."""

    def __init__(self, inner):
        super().__init__(inner.species, inner.cutoff, inner.local, inner.long_range, inner.coulomb_term,
                         inner.head)
        self.config, self.metadata = inner.config, {}

    @property
    def outputs(self):
        return super().outputs + ("charges",)

    def per_atom(self, graph, positions, cell, options=None, electric_field=None):
        out = super().per_atom(graph, positions, cell, options, electric_field)
        out["charges"] = 0.1 * torch.tanh(out["atomic_energies"])
        return out


def randomise(model, seed):
    """Random values for every weight: a fresh model's energies barely depend on the species."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return model


@pytest.fixture(scope="module")
def model():
    config = {
        "species": ["Cu", "Ni"],
        "cutoff": 3.0,
        "num_layers": 1,
        "l_max": 1,
        "num_features": 4,
        "avg_num_neighbors": 12.0,
        "seed": 5,
    }
    return randomise(lrcalc.build_model(config), seed=2)


def _rmse_mae(errors):
    errors = np.concatenate([np.ravel(e) for e in errors])
    return np.sqrt(np.mean(errors**2)), np.mean(np.abs(errors))


def test_evaluate_equals_a_hand_computation(model, emt_data, tmp_path):
    subset = [1, 4, 5, 10]
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": [0], "val": [2], "test": subset}))
    frames = read(emt_data, ":")
    calc = lrcalc.LRCalculator(model)
    de, df, ds, dq = [], [], [], []
    charged = WithCharges(model)
    for k in subset:
        atoms = frames[k]
        reference = (atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(voigt=False))
        atoms.calc = calc
        de.append((atoms.get_potential_energy() - reference[0]) / len(atoms))
        df.append(atoms.get_forces() - reference[1])
        ds.append(atoms.get_stress(voigt=False) - reference[2])
        graph = lrcalc.atoms_to_graph(atoms, model.species, model.cutoff)
        dq.append(charged(graph)["charges"].numpy() - atoms.arrays["ref_q"])

    result = evaluate(charged, emt_data, subset=f"{split}:test", keys={"charges_key": "ref_q"})
    assert result["num_frames"] == 4 and result["num_atoms"] == 16
    for name, errors in (("energy", de), ("forces", df), ("stress", ds), ("charges", dq)):
        rmse, mae = _rmse_mae(errors)
        assert result["metrics"][name]["rmse"] == pytest.approx(rmse, rel=1e-10, abs=1e-14), name
        assert result["metrics"][name]["mae"] == pytest.approx(mae, rel=1e-10, abs=1e-14), name

    # Without charge predictions (the plain model) there is no charge metric.
    plain = evaluate(model, emt_data, indices=subset, keys={"charges_key": "ref_q"})
    assert set(plain["metrics"]) == {"energy", "forces", "stress"}
    assert plain["metrics"]["forces"] == result["metrics"]["forces"]


def test_evaluate_command_prints_the_table_and_writes_plots(model, emt_data, tmp_path, capsys):
    path = lrcalc.save_model(model, tmp_path / "m.pt")
    (tmp_path / "idx.json").write_text("[0, 3, 7]")
    assert (
        main(
            [
                "evaluate",
                str(path),
                str(emt_data),
                "--indices",
                str(tmp_path / "idx.json"),
                "--plot",
                str(tmp_path / "plots"),
                "--json",
                str(tmp_path / "m.json"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "m.json").read_text())["metrics"]
    assert "3 frames, 12 atoms" in out
    forces_line = next(line for line in out.splitlines() if line.startswith("forces"))
    assert f"{1000 * metrics['forces']['rmse']:.4f}" in forces_line and "meV/Å" in forces_line
    for name in ("energy", "forces", "stress"):
        assert (tmp_path / "plots" / f"parity_{name}.png").stat().st_size > 1000
    assert main(["evaluate", str(path), str(emt_data), "--indices", f"{tmp_path / 'idx.json'}:test"]) == 2
    assert "no set 'test'" in capsys.readouterr().err


def test_loss_terms_are_means_over_the_global_batch():
    """Two halves of a batch, each normalised by the whole batch's counts, add up to the whole."""
    rng = np.random.default_rng(0)
    num_atoms = torch.tensor([3, 5])
    n = int(num_atoms.sum())
    batch = {
        "num_atoms": num_atoms,
        "ref_energy": torch.tensor(rng.normal(size=2)),
        "ref_forces": torch.tensor(rng.normal(size=(n, 3))),
        "ref_charges": torch.tensor(rng.normal(size=n)),
        "ref_stress": torch.tensor(rng.normal(size=(2, 3, 3))),
    }
    out = {
        "energy64": torch.tensor(rng.normal(size=2)),
        "forces": torch.tensor(rng.normal(size=(n, 3))),
        "charges": torch.tensor(rng.normal(size=n)),
        "stress": torch.tensor(rng.normal(size=(2, 3, 3))),
    }
    weights = {"energy": 2.0, "forces": 3.0, "stress": 5.0, "charges": 7.0}
    loss, parts = weighted_loss(residuals(out, batch, weights), weights, element_counts(2, n))
    by_hand = {
        "energy": np.mean(((out["energy64"] - batch["ref_energy"]) / num_atoms).numpy() ** 2),
        "forces": np.mean((out["forces"] - batch["ref_forces"]).numpy() ** 2),
        "stress": np.mean((out["stress"] - batch["ref_stress"]).numpy() ** 2),
        "charges": np.mean((out["charges"] - batch["ref_charges"]).numpy() ** 2),
    }
    for name in weights:
        assert float(parts[name]) == pytest.approx(by_hand[name], rel=1e-12)
    assert float(loss) == pytest.approx(sum(weights[k] * by_hand[k] for k in weights), rel=1e-12)

    halves = []
    for structures, atoms in ((slice(0, 1), slice(0, 3)), (slice(1, 2), slice(3, 8))):
        part_batch = {
            "num_atoms": num_atoms[structures],
            "ref_energy": batch["ref_energy"][structures],
            "ref_forces": batch["ref_forces"][atoms],
            "ref_charges": batch["ref_charges"][atoms],
            "ref_stress": batch["ref_stress"][structures],
        }
        part_out = {
            "energy64": out["energy64"][structures],
            "forces": out["forces"][atoms],
            "charges": out["charges"][atoms],
            "stress": out["stress"][structures],
        }
        halves.append(
            weighted_loss(residuals(part_out, part_batch, weights), weights, element_counts(2, n))[0]
        )
    assert float(halves[0] + halves[1]) == pytest.approx(float(loss), rel=1e-12)
