"""Recreate models/example_untrained.pt: a small short-range model with random weights (seed 0).

It is NOT trained and predicts nothing physical. It exists so that the quick start, the tutorials
and the tests can exercise loading a shipped model by name before trained models are shipped.

    python models/recipes/make_example_untrained.py
"""

from pathlib import Path

import lrcalc

CONFIG = {
    "species": ["H", "C", "N", "O", "Cu"],
    "cutoff": 5.0,
    "long_range": "none",
    "num_layers": 2,
    "l_max": 1,
    "num_features": 16,
    "dtype": "float64",
    "seed": 0,
}

if __name__ == "__main__":
    model = lrcalc.build_model(CONFIG)
    path = Path(__file__).resolve().parents[1] / "example_untrained.pt"
    lrcalc.save_model(
        model,
        path,
        metadata={
            "description": "UNTRAINED example: random weights (seed 0); energies are not physical",
            "training_data": None,
            "recipe": "models/recipes/make_example_untrained.py",
        },
    )
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
