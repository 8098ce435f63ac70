"""Cost of the short-range model, side by side with nequip: µs per atom per energy+forces+stress call
(bulk Cu, 64–8000 atoms) and seconds per training step.

    python benchmarks/speed_sr.py [--max-atoms 8000] [--allocator tuned|default] [--no-training] [--device cuda]

Model: 3 layers, l_max 1, 32 features, both parities, 5 Å cutoff, radial MLP 2×64, 8 Bessel
functions, ⟨n⟩ = 42; lrcalc in float32 and float64 (same weights). A "call" is what an MD step pays
through each package's ASE calculator: neighbor list, graph, energy, forces and stress. When nequip
is importable (it is not a dependency of lrcalc), a nequip model with the same hyperparameters runs
in the same process, its calls alternated with lrcalc's, and the table gains its column and the
ratio lrcalc/nequip (float32). The training table times one optimiser step (energy + forces loss,
forces by double backward) on a batch of 4 rattled 108-atom bulk Cu frames, for both packages.
Prints the tables, the fitted scaling exponent of time against N (1 = linear) and the float64/float32
cost ratio, all measured in this run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from _common import ensure_allocator, fit_exponent
from systems import bulk_cu

import lrcalc

CONFIG = {
    "species": ["Cu"],
    "cutoff": 5.0,
    "num_layers": 3,
    "l_max": 1,
    "num_features": 32,
    "parity": True,
    "num_radial_basis": 8,
    "radial_mlp_hidden": 64,
    "radial_mlp_layers": 2,
    "avg_num_neighbors": 42.0,
}
# bulk Cu supercells of the 4-atom cubic cell: 64 ... 8000 atoms
REPEATS = [(2, 2, 4), (4, 4, 4), (6, 6, 6), (8, 8, 8), (10, 10, 10), (10, 10, 20)]


def nequip_model():
    """The same network in nequip (``None`` when nequip is not importable)."""
    try:
        from nequip.model import NequIPGNNModel
        from nequip.utils.global_state import set_global_state
    except ImportError:
        return None
    set_global_state()
    return NequIPGNNModel(
        seed=0, model_dtype="float32", r_max=CONFIG["cutoff"], type_names=["Cu"],
        num_layers=CONFIG["num_layers"], l_max=CONFIG["l_max"], parity=CONFIG["parity"],
        num_features=CONFIG["num_features"], num_bessels=CONFIG["num_radial_basis"],
        radial_mlp_depth=CONFIG["radial_mlp_layers"], radial_mlp_width=CONFIG["radial_mlp_hidden"],
        avg_num_neighbors=CONFIG["avg_num_neighbors"], per_type_energy_shifts={"Cu": 0.0},
        per_type_energy_scales={"Cu": 1.0},
    )


def nequip_transforms():
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    return [ChemicalSpeciesToAtomTypeMapper(model_type_names=["Cu"]), NeighborListTransform(r_max=CONFIG["cutoff"])]


def alternated_medians(calls: dict, repeats: int, budget_s: float) -> dict:
    """Median wall time (s) of each call, the calls alternated (one warm-up each)."""
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    start = time.perf_counter()
    for _ in range(repeats):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return {name: statistics.median(values) for name, values in times.items()}


def inference_table(args, models, nequip):
    dtypes = list(models)
    print(f"# lrcalc: {sum(p.numel() for p in models[dtypes[0]].parameters())} parameters"
          + (f"; nequip: {sum(p.numel() for p in nequip.parameters())}" if nequip is not None else ""))
    columns = [f"lrcalc {d}" for d in dtypes] + (["nequip float32"] if nequip is not None else [])
    header = f"{'atoms':>6} {'edges':>8}" + "".join(f" {c + ' µs/atom':>22}" for c in columns)
    if nequip is not None:
        header += f" {'lrcalc/nequip':>14}"
    print(header)
    sizes, costs = [], {c: [] for c in columns}
    for repeat in REPEATS:
        atoms = bulk_cu(repeat)
        if len(atoms) > args.max_atoms:
            break
        atoms.rattle(0.05, seed=0)
        calcs = {f"lrcalc {d}": lrcalc.LRCalculator(models[d], device=args.device) for d in dtypes}
        if nequip is not None:
            from nequip.ase import NequIPCalculator

            calcs["nequip float32"] = NequIPCalculator(nequip, device=args.device, transforms=nequip_transforms())
        calls = {name: (lambda c=calc: c.calculate(atoms, ["energy", "forces", "stress"], ["positions"]))
                 for name, calc in calcs.items()}
        seconds = alternated_medians(calls, repeats=5 if len(atoms) < 4000 else 3, budget_s=60)
        graph = lrcalc.atoms_to_graph(atoms, ["Cu"], CONFIG["cutoff"])
        row = f"{len(atoms):>6} {graph['edge_index'].shape[1]:>8}"
        for c in columns:
            costs[c].append(seconds[c])
            row += f" {seconds[c] / len(atoms) * 1e6:>22.1f}"
        if nequip is not None:
            row += f" {seconds[columns[0]] / seconds['nequip float32']:>14.2f}"
        sizes.append(len(atoms))
        print(row, flush=True)
    for c in columns:
        print(f"# {c}: time ∝ N^{fit_exponent(sizes, costs[c]):.3f} over {sizes[0]}–{sizes[-1]} atoms")
    if len(dtypes) == 2:
        ratio = costs[columns[1]][-1] / costs[columns[0]][-1]
        print(f"# {dtypes[1]}/{dtypes[0]} cost ratio at the largest size: {ratio:.2f}")


def training_frames(num_frames=4, repeat=(3, 3, 3)):
    """Rattled bulk Cu frames with EMT energies and forces (the labels only set the loss's scale)."""
    from ase.calculators.emt import EMT

    frames = []
    for k in range(num_frames):
        atoms = bulk_cu(repeat)
        atoms.rattle(0.1, seed=k)
        atoms.calc = EMT()
        atoms.info["energy"], atoms.arrays["forces"] = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = None
        frames.append(atoms)
    return frames


def synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def lrcalc_training_step(model, frames, device):
    from pathlib import Path

    from lrcalc.training.data import Dataset
    from lrcalc.training.loss import predict

    model.to(device).train()
    labels = [{"energy": np.array(a.info["energy"]), "forces": a.arrays["forces"]} for a in frames]
    dataset = Dataset(Path("bulk Cu"), frames, labels)
    dataset.build_graphs(model.species, model.cutoff, torch.float64)
    batch = dataset.collate(list(range(len(frames))), device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        optimizer.zero_grad()
        out = predict(model, batch, stress=False, create_graph=True)
        loss = ((out["energy64"] - batch["ref_energy"]) / batch["num_atoms"]).pow(2).mean() \
            + (out["forces"] - batch["ref_forces"]).pow(2).mean()
        loss.backward()
        optimizer.step()
        synchronize(device)

    return step


def nequip_training_step(model, frames, device):
    from nequip.data import AtomicDataDict, from_ase

    model.to(device).train()
    transforms = nequip_transforms()
    parts = []
    for atoms in frames:
        data = from_ase(atoms)
        for t in transforms:
            data = t(data)
        parts.append(data)
    batch = AtomicDataDict.to_(AtomicDataDict.batched_from_list(parts), torch.device(device))
    energy = torch.tensor([a.info["energy"] for a in frames], dtype=torch.float32, device=device)
    forces = torch.as_tensor(np.concatenate([a.arrays["forces"] for a in frames]), dtype=torch.float32,
                             device=device)
    num_atoms = torch.tensor([len(a) for a in frames], dtype=torch.float32, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step():
        optimizer.zero_grad()
        out = model(dict(batch))
        loss = ((out[AtomicDataDict.TOTAL_ENERGY_KEY].view(-1) - energy) / num_atoms).pow(2).mean() \
            + (out[AtomicDataDict.FORCE_KEY] - forces).pow(2).mean()
        loss.backward()
        optimizer.step()
        synchronize(device)

    return step


def training_table(model, nequip, device):
    frames = training_frames()
    steps = {"lrcalc float32": lrcalc_training_step(model, frames, device)}
    if nequip is not None:
        steps["nequip float32"] = nequip_training_step(nequip, frames, device)
    seconds = alternated_medians(steps, repeats=7, budget_s=60)
    atoms = sum(len(a) for a in frames)
    print(f"\n# training step: batch of {len(frames)} × {len(frames[0])} atoms, energy + forces loss, Adam")
    print(f"{'package':>16} {'s/step':>10} {'µs/atom':>10}")
    for name, value in seconds.items():
        print(f"{name:>16} {value:>10.3f} {value / atoms * 1e6:>10.1f}")
    if nequip is not None:
        print(f"# lrcalc/nequip training step: {seconds['lrcalc float32'] / seconds['nequip float32']:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-atoms", type=int, default=8000)
    parser.add_argument("--allocator", choices=["tuned", "default"], default="tuned")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 …")
    parser.add_argument("--no-nequip", action="store_true", help="skip nequip even when importable")
    parser.add_argument("--no-training", action="store_true", help="skip the training-step table")
    args = parser.parse_args()
    allocator = ensure_allocator(args.allocator == "tuned")
    where = (torch.cuda.get_device_name(torch.device(args.device)) if torch.device(args.device).type == "cuda"
             else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads")
    print(f"# {where}, {allocator}")
    print(f"# lrcalc {lrcalc.__version__}, model {CONFIG}")
    # lrcalc's models first: building a nequip model changes e3nn's global code-generation settings,
    # after which e3nn modules built here could no longer be deep-copied by the calculator
    models = {d: lrcalc.build_model({**CONFIG, "dtype": d}) for d in args.dtypes.split(",")}
    training_model = lrcalc.build_model({**CONFIG, "dtype": "float32"})
    nequip = None if args.no_nequip else nequip_model()
    if nequip is not None:
        import nequip as nequip_package

        nequip.eval()
        print(f"# nequip {nequip_package.__version__} (same hyperparameters, float32)")
    else:
        print("# nequip not importable (or --no-nequip): no side-by-side column")
    inference_table(args, models, nequip)
    if not args.no_training:
        training_table(training_model, nequip, args.device)


if __name__ == "__main__":
    main()
