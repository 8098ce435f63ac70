"""``lrcalc evaluate MODEL DATA``: errors of a model on labelled data (:func:`lrcalc.training.evaluate`)."""

from __future__ import annotations

import argparse
import json

from .common import add_pbc_argument, device_argument


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="errors of a model on labelled data",
        description="Print RMSE and MAE of energy (meV/atom), forces (meV/Å), stress (meV/Å³) and charges "
        "(me) for the labels the data holds and the model predicts. Label keys default to those the "
        "model was trained with (printed when they differ from the defaults).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  lrcalc evaluate bta_cu.pt ../shared/data/cu_bta/cu_bta.extxyz \\\n"
               "      --indices ../shared/data/cu_bta/split.json:test --plot parity/ --output test.extxyz\n"
               "  lrcalc evaluate mine.pt data.extxyz --energy-key dft_energy --pbc T,T,F\n"
               "defaults: --batch-size 16, --device cpu, label keys as the model was trained "
               "(else energy, forces, stress, no charges, total charge from info['charge'])",
    )
    parser.add_argument("model", help="model file or shipped model name")
    parser.add_argument("data", help="labelled data file (extxyz or anything ase.io reads)")
    parser.add_argument("--indices", default=None, metavar="FILE[:SET]",
                        help="evaluate a subset: a set of a split file (split.json:test) or a JSON list")
    parser.add_argument("--plot", default=None, metavar="DIR", help="write parity plots (PNG) to DIR")
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the metrics as JSON")
    parser.add_argument("--output", default=None, metavar="FILE.extxyz",
                        help="write the frames with the model's predictions (energy, forces, stress, charges) "
                             "and the reference labels (ref_energy, ref_forces, …)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", type=device_argument, default="cpu", help="torch device (default cpu)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default=None,
                        help="float dtype of the network (default: the model's)")
    parser.add_argument("--energy-key", default=None)
    parser.add_argument("--forces-key", default=None)
    parser.add_argument("--stress-key", default=None)
    parser.add_argument("--charges-key", default=None,
                        help="per-atom reference charges, e.g. initial_charges")
    parser.add_argument("--total-charge-key", default=None, help="atoms.info key of the total charge")
    add_pbc_argument(parser)
    parser.set_defaults(handler=run)


def run(args) -> int:
    from ..allocator import tune_allocator
    from ..training import evaluate, format_table

    tune_allocator()

    keys = {"energy_key": args.energy_key, "forces_key": args.forces_key, "stress_key": args.stress_key,
            "charges_key": args.charges_key, "total_charge_key": args.total_charge_key, "pbc": args.pbc}
    result = evaluate(args.model, args.data, subset=args.indices, keys=keys, batch_size=args.batch_size,
                      device=args.device, dtype=args.dtype, plot_dir=args.plot, predictions_path=args.output)
    for key, (value, origin) in result["data_keys"].items():
        if origin != "default":
            print(f"{key}: {value!r} ({origin})")
    print(format_table(result))
    for path in result["plots"] + ([result["predictions"]] if "predictions" in result else []):
        print(f"wrote {path}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0
