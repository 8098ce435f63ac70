"""Record energies, forces, stress and charges of every shipped model on fixed structures.

Run once before a change of the model code or of the state-dict layout; ``tests/test_shipped_models.py``
then checks that every shipped model still gives these numbers (to 1e-6 relative).

    python tests/data/make_shipped_reference.py   # writes tests/data/shipped_reference.json
"""

import json
from pathlib import Path

import numpy as np

import lrcalc
from lrcalc.model_file import shipped_models
from lrcalc.structures import benzotriazole, bta_on_cu111


def reference_structures(species):
    """Name → Atoms: a rattled molecule (neutral and +1), and with Cu the 46-atom slab and a small
    3-D periodic cell."""
    rng = np.random.default_rng(7)
    molecule = benzotriazole()
    molecule.positions += rng.normal(scale=0.05, size=molecule.positions.shape)
    cation = molecule.copy()
    cation.info["charge"] = 1
    # one fragment of every atom, for models with charge_constraint: fragments (the others ignore it)
    for atoms in (molecule, cation):
        atoms.arrays["fragment"] = np.zeros(len(atoms), dtype=int)
        atoms.info["fragment_charges"] = [float(atoms.info.get("charge", 0))]
    structures = {"molecule": molecule, "cation": cation}
    if "Cu" in species:
        slab = bta_on_cu111(height=2.6)  # the default of lrcalc 0.1 when the reference was recorded
        slab.positions += rng.normal(scale=0.05, size=slab.positions.shape)
        bulk = slab.copy()
        bulk.pbc = True
        structures.update(slab=slab, periodic=bulk)
    return structures


def evaluate_one(model_name, structure):
    """Results of one model on one of its reference structures, with a fresh calculator."""
    calc = lrcalc.LRCalculator(model_name)  # a fresh one per structure: no state carried over
    atoms = reference_structures(calc.model.species)[structure]
    atoms.calc = calc
    row = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces().tolist()}
    if atoms.pbc.any():
        row["stress"] = atoms.get_stress().tolist()
    if "charges" in calc.implemented_properties:
        row["charges"] = atoms.get_charges().tolist()
    return row


def evaluate(model_name):
    species = lrcalc.load_model(model_name).species
    return {name: evaluate_one(model_name, name) for name in reference_structures(species)}


if __name__ == "__main__":
    # python tests/data/make_shipped_reference.py [NAME …]: all models, or (a model retrained or added)
    # only those named, keeping the recorded results of the others
    import sys

    out = Path(__file__).with_name("shipped_reference.json")
    names = sys.argv[1:] or [path.name for path in shipped_models()]
    reference = json.loads(out.read_text()) if sys.argv[1:] else {}
    reference.update({name: evaluate(name) for name in names})
    out.write_text(json.dumps(reference))
    print(f"wrote {out}: {', '.join(reference)}")
