"""Train your own model: data → config → ``lrcalc train`` → ``lrcalc evaluate`` → ASE.

    python tutorials/04_train_your_own.py [WORKDIR] [--quick]

It makes a small labelled data set (copper with a nickel impurity, energies, forces and stress from
ASE's EMT potential standing in for DFT), writes a training config, trains a tiny model for a few
epochs (about 20 s on two CPU cores; ``--quick``: 5 epochs), evaluates it on the test set and runs it in ASE.
For your own data, point ``data.path`` to your extxyz file and make the model larger (the
commented values are a reasonable start). The same run from a shell:

    lrcalc train WORKDIR/config.yaml             # add --resume to continue an interrupted run
    lrcalc evaluate WORKDIR/run/best.pt WORKDIR/data.extxyz \
        --indices WORKDIR/run/split.json:test --plot WORKDIR/plots
    torchrun --nproc_per_node=2 -m lrcalc train WORKDIR/config.yaml    # data-parallel

Every config key, with its default, is listed in ``lrcalc.training.config``.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from lrcalc import LRCalculator
from lrcalc.training import evaluate, format_table, train

parser = argparse.ArgumentParser(description="Train, evaluate and use a small model.")
parser.add_argument(
    "workdir", nargs="?", help="where data, config and run go (default: a new temporary folder)"
)
parser.add_argument("--quick", action="store_true", help="5 epochs instead of 60 (a smoke test)")
args = parser.parse_args()
workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="lrcalc_tutorial_"))
workdir.mkdir(parents=True, exist_ok=True)

# 1. Labelled data: 40 rattled 8-atom Cu cells, every other one with a Ni atom. Any extxyz file with
#    energies (eV), forces (eV/Å) and optionally stress, virial or per-atom charges will do.
frames = []
for k in range(40):
    atoms = bulk("Cu", "fcc", a=3.6).repeat((2, 2, 2))
    if k % 2:
        atoms[0].symbol = "Ni"
    atoms.rattle(0.06, seed=k)
    atoms.set_cell(atoms.cell * (1 + 0.01 * np.sin(k)), scale_atoms=True)
    atoms.calc = EMT()
    labels = {
        "energy": atoms.get_potential_energy(),
        "forces": atoms.get_forces(),
        "stress": atoms.get_stress(),
    }
    atoms.calc = SinglePointCalculator(atoms, **labels)  # the labels travel in the extxyz file
    frames.append(atoms)
write(workdir / "data.extxyz", frames)

# 2. The config: four sections; everything not given takes its default.
config_text = f"""\
model:
  species: [Cu, Ni]
  cutoff: 4.0            # Å
  num_layers: 1          # 2-3 for real data
  l_max: 1
  num_features: 8        # 16-64 for real data
  dtype: float32
data:
  path: {workdir / "data.extxyz"}
  split_fractions: [0.7, 0.15, 0.15]   # or split_file: split.json with train/val/test index lists
training:
  max_epochs: {5 if args.quick else 60}         # hundreds for real data
  batch_size: 4
  energy_weight: 1.0
  forces_weight: 1.0
  stress_weight: 1.0
  learning_rate: 0.01
  lr_schedule: cosine
  ema_decay: 0.9
  num_threads: 1         # small models train fastest on few threads
output:
  directory: {workdir / "run"}
"""
config_path = workdir / "config.yaml"
config_path.write_text(config_text)

# 3. Train. The run directory gets config.yaml, split.json, checkpoint.pt (each epoch), best.pt (the
#    model file), metrics.jsonl and learning_curves.png. resume=True continues an interrupted run.
result = train(config_path, resume=True)

# 4. Evaluate the best model on the test frames of the split the run saved.
run = Path(result["run_dir"])
report = evaluate(
    result["best_model"],
    workdir / "data.extxyz",
    subset=f"{run / 'split.json'}:test",
    plot_dir=workdir / "plots",
)
print(format_table(report))
print(f"parity plots: {', '.join(report['plots'])}")

# 5. The trained model is an ordinary lrcalc model file: use it in ASE.
atoms = bulk("Cu", "fcc", a=3.62).repeat((2, 2, 2))
atoms.rattle(0.05, seed=99)
atoms.calc = LRCalculator(result["best_model"])
print(f"energy {atoms.get_potential_energy():.4f} eV, max force {np.abs(atoms.get_forces()).max():.4f} eV/Å")
print(f"learning curves: {run / 'learning_curves.png'}")
