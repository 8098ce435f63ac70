"""Copy a finished training run's best model into models/ with its description.

    python models/recipes/export.py bta_cu            # runs/bta_cu/best.pt → models/bta_cu.pt
    python models/recipes/export.py bta_cu_stage2:bta_cu   # runs/bta_cu_stage2/best.pt → models/bta_cu.pt
"""

import sys
from pathlib import Path

import lrcalc

DESCRIPTIONS = {
    "bta_cu": "NequIP-LR (Qeq) model of benzotriazole on Cu(111), 5 Å; trained on the NequIP-LR authors' Cu-BTA DFT data",
    "bta_cu_sr": "short-range baseline of bta_cu.pt (same size, 5 Å), Cu-BTA DFT data",
    "bta_cu_qeq3": "NequIP-LR (Qeq) model with a 3 Å cutoff, Cu-BTA DFT data",
    "bta_ion_cu": "NequIP-LR (Qeq) model of BTA⁻ + H₃O⁺ on Cu(111), 5 Å; Cu-BTA-ion DFT data",
    "bta_ion_cu_sr": "short-range baseline of bta_ion_cu.pt (same size, 5 Å), Cu-BTA-ion DFT data",
    "bta_cu_lorem": "LOREM (equivariant charges) model of benzotriazole on Cu(111), 5 Å, Cu-BTA DFT data",
    "bta_cu_committee_1": "committee member 1 of 3: the bta_cu.pt architecture from seed 1, 40 epochs + 80 at "
                           "energy weight 20, "
                           "Cu-BTA DFT data (use the three together: LRCalculator([...]))",
    "bta_cu_committee_2": "committee member 2 of 3: the bta_cu.pt architecture from seed 2, 40 epochs + 80 at "
                           "energy weight 20, "
                           "Cu-BTA DFT data (use the three together: LRCalculator([...]))",
    "bta_cu_committee_3": "committee member 3 of 3: the bta_cu.pt architecture from seed 3, 40 epochs + 80 at "
                           "energy weight 20, "
                           "Cu-BTA DFT data (use the three together: LRCalculator([...]))",
    "dimers_sr": "short-range model of six charged/polar/apolar molecular dimers, 5 Å (cace-lr-fit data)",
    "dimers_qeq": "NequIP-LR (Qeq) model of six charged/polar/apolar molecular dimers, 5 Å (cace-lr-fit data)",
    "dimers_lorem": "LOREM model of six charged/polar/apolar molecular dimers, 5 Å (cace-lr-fit data)",
    "dimers_qeq_fragments": "NequIP-LR (Qeq) model of six charged/polar/apolar molecular dimers, 5 Å, with the "
                            "charge of each molecule kept (charge_constraint: fragments; cace-lr-fit data)",
}
LICENSES = {
    "bta": "MIT (ahmad-research-group/nequip-charge); cite arXiv:2503.17949",
    "dimers": "CC BY-NC 4.0 (BingqingCheng/cace-lr-fit): non-commercial research use only",
}

if __name__ == "__main__":
    repo = Path(__file__).resolve().parents[2]
    for argument in sys.argv[1:]:
        run, _, name = argument.partition(":")
        name = name or run
        model = lrcalc.load_model(repo / "runs" / run / "best.pt")
        path = lrcalc.save_model(model, repo / "models" / f"{name}.pt", metadata={
            "description": DESCRIPTIONS[name], "recipe": f"models/recipes/{run}.yaml",
            "data_license": LICENSES["dimers" if name.startswith("dimers") else "bta"],
        })
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
