"""Write benchmarks/RESULTS.md from the saved outputs in benchmarks/results/*.txt (verbatim).

Each benchmark's output is saved with ``python benchmarks/NAME.py ... > benchmarks/results/NAME.txt``;
this page only gathers them, so every figure in it is one a benchmark printed.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMANDS = {
    "neighbor_lists": "python benchmarks/neighbor_lists.py",
    "speed_sr": "python benchmarks/speed_sr.py --max-atoms 4000",
    "speed_sr_default_allocator": "python benchmarks/speed_sr.py --max-atoms 4000 --allocator default --no-training",
    "md_speed": "python benchmarks/md_speed.py --baseline 5be52c3",
    "training_epoch": "python benchmarks/training_epoch.py models/recipes/bta_cu.yaml --baseline 5be52c3",
    "torch_compile": "python benchmarks/torch_compile.py",
    "speed_lr": "python benchmarks/speed_lr.py",
    "electrostatics_scaling": "python benchmarks/electrostatics_scaling.py --threads 1 --repeats 2",
    "electrostatics_scaling_uniform": "python benchmarks/electrostatics_scaling.py --system uniform --sizes 10000 40000 100000 --repeats 1",
    "electrostatics_scaling_uniform_1e-5": "python benchmarks/electrostatics_scaling.py --system uniform --accuracy 1e-5 --sizes 10000 40000 100000 --repeats 1",
    "electrostatics_scaling_liquid": "python benchmarks/electrostatics_scaling.py --system liquid --sizes 10000 40000 100000 --repeats 1",
    "electrostatics_scaling_slab": "python benchmarks/electrostatics_scaling.py --system slab --sizes 10000 40000 100000 --repeats 1",
    "md_validation": "python benchmarks/md_validation.py --model bta_cu.pt --ps 2.5 --dtype float64",
    "md_validation_3x3": "python benchmarks/md_validation.py --model bta_cu.pt --ps 0.5 --dtype float64 --repeat 3",
    "qeq_accuracy": "python benchmarks/qeq_accuracy.py",
    "qeq_iterations": "python benchmarks/qeq_iterations.py",
    "allocator": "python benchmarks/allocator.py",
}

if __name__ == "__main__":
    parts = ["# Benchmark results", "",
             "Outputs of the scripts in `benchmarks/` on the 2-core development machine (x86_64, no GPU),",
             "copied verbatim from `benchmarks/results/` by `python benchmarks/collect_results.py`.", ""]
    for name, command in COMMANDS.items():
        path = HERE / "results" / f"{name}.txt"
        if not path.is_file():
            continue
        parts += [f"## {name}", "", f"`{command}`", "", "```", path.read_text().rstrip(), "```", ""]
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {HERE / 'RESULTS.md'}")
