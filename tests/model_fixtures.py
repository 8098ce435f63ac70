"""Small models for the tests (float64), importable from any test folder."""

from __future__ import annotations

SMALL_CONFIG = {
    "species": ["H", "C", "N", "O", "Cu"],
    "cutoff": 4.0,
    "long_range": "none",
    "num_layers": 2,
    "l_max": 2,
    "num_features": 8,
    "dtype": "float64",
    "parity": True,
    "avg_num_neighbors": 10.0,
    "seed": 1,
}

#: A small Qeq model (1 + 1 layers); tests set their own ``species``.
SMALL_QEQ_CONFIG = {
    "species": ["H", "C", "N", "O"],
    "cutoff": 4.0,
    "long_range": "qeq",
    "num_layers": 1,
    "num_layers_feedback": 1,
    "l_max": 1,
    "num_features": 8,
    "dtype": "float64",
    "avg_num_neighbors": 10.0,
    "seed": 2,
}


def randomise_output_layers(model, seed=0):
    """Freshly initialised e3nn models have some output weights that make energies nearly
    species-independent; give every parameter a random value so that tests see a generic function."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return model
