"""The model config: a plain JSON-serialisable dict, checked and completed by :data:`MODEL_SCHEMA`.

Every key, its default, its allowed values and its meaning are declared once below; the README's
table and ``lrcalc info --keys`` are printed from the same declaration (:meth:`Schema.table`).
``long_range`` selects the stages (:mod:`lrcalc.nn.model`): ``"none"`` (short range), ``"qeq"``
(NequIP-LR, global charge equilibration) or ``"lorem"`` (equivariant charges); keys of the other
methods are refused. The Coulomb sums of either long-range method are set by the same two keys,
``coulomb_method`` and ``coulomb_accuracy`` (formerly ``qeq_*``/``lorem_*``, still accepted).
"""

from __future__ import annotations

import json

from ase.data import atomic_numbers

from .errors import ConfigError
from .schema import REQUIRED, Schema, Setting

LONG_RANGE_METHODS = ("none", "qeq", "lorem")
DTYPES = ("float32", "float64")
COULOMB_METHODS = ("auto", "direct", "ewald", "pme", "p3m")
CHARGE_CONSTRAINTS = ("total", "fragments")


def _species_problem(species) -> str | None:
    bad = [s for s in species if s not in atomic_numbers or s == "X"]
    if bad:
        return f"unknown element symbol(s): {bad}"
    if len(set(species)) != len(species):
        return f"an element is listed twice: {species}"
    return None


MODEL_SCHEMA = Schema("model config", variant_key="long_range", settings=[
    Setting("species", "list", REQUIRED, "element symbols the model knows, e.g. `[\"Cu\", \"C\", \"N\"]`",
            check=_species_problem),
    Setting("cutoff", "float", REQUIRED, "neighbor cutoff radius, Å", positive=True),
    Setting("long_range", "str", "none", "`none` (short range), `qeq` (NequIP-LR) or `lorem` (LOREM)",
            choices=LONG_RANGE_METHODS),
    Setting("num_layers", "int", 3, "interaction layers of the local block (qeq: before the charge "
            "equilibration; lorem: before the first long-range step)", minimum=1),
    Setting("l_max", "int", 1, "highest rotation order of features and spherical harmonics", minimum=0),
    Setting("num_features", "int", 32, "channels per irrep", minimum=1),
    Setting("dtype", "str", "float64", "float dtype of the network (geometry and electrostatics are "
            "float64 always)", choices=DTYPES),
    Setting("parity", "bool", True, "keep both parities of each l"),
    Setting("num_radial_basis", "int", 8, "Bessel functions of the radial embedding", minimum=1),
    Setting("radial_mlp_hidden", "int", 64, "width of the radial MLP", minimum=1),
    Setting("radial_mlp_layers", "int", 2, "hidden layers of the radial MLP", minimum=1),
    Setting("polynomial_p", "int", 6, "order p of the cutoff envelope", minimum=1),
    Setting("avg_num_neighbors", "float", 20.0, "⟨n⟩ normalising the convolution sum (training sets it "
            "from its data)", positive=True),
    Setting("seed", "int", 0, "seed of the weight initialisation"),
    Setting("total_charge_input", "bool", False, "the structure's total charge Q (e) enters the atom "
            "features next to the species", variants=("none", "lorem"), defaults={"none": False, "lorem": True}),
    # the Coulomb sums of the long-range stages
    Setting("coulomb_method", "str", "auto", "Coulomb strategy of the long-range stage",
            choices=COULOMB_METHODS, variants=("qeq", "lorem"), aliases=("qeq_method", "lorem_method")),
    Setting("coulomb_accuracy", "float", 1e-4, "relative accuracy of the Coulomb sums and of the charge "
            "solve (forces of bta_cu.pt change by at most 0.02 meV/Å against 1e-8)", minimum=1e-12,
            maximum=1e-2, variants=("qeq", "lorem"), aliases=("qeq_accuracy", "lorem_accuracy")),
    # NequIP-LR (qeq)
    Setting("num_layers_feedback", "int", 1, "interaction layers after the charges are known",
            minimum=0, variants=("qeq",)),
    Setting("charge_feedback", "bool", True, "feed the charges into those layers (false: ablation)",
            variants=("qeq",)),
    Setting("learn_sigma", "bool", True, "learn the Gaussian charge widths σ_Z (else the covalent radii)",
            variants=("qeq",)),
    Setting("hardness_init", "float", 1.0, "initial hardness J_Z, eV/e² (learned, kept positive)",
            positive=True, variants=("qeq",)),
    Setting("charge_embedding_size", "int", 8, "Gaussians in the charge embedding g(q)", minimum=1,
            variants=("qeq",)),
    Setting("charge_embedding_max", "float", 1.5, "the embedding grid spans [−max, max], e", positive=True,
            variants=("qeq",)),
    Setting("charge_constraint", "str", "total", "what the Qeq charges conserve: `total` (the structure's "
            "total charge: charge may move between molecules at any distance) or `fragments` (the charge of "
            "each fragment, `atoms.info[\"fragment_charges\"]` with `atoms.arrays[\"fragment\"]`; a "
            "structure without them is an error)", choices=CHARGE_CONSTRAINTS, variants=("qeq",)),
    # LOREM
    Setting("num_lr_steps", "int", 1, "long-range message-passing steps (0: none, an ablation)", minimum=0,
            variants=("lorem",)),
    Setting("lorem_l_max", "int", 2, "highest order l of the equivariant charges, at most 2·l_max",
            minimum=0, variants=("lorem",)),
    Setting("lorem_channels", "int", 4, "charge channels per order l", minimum=1, variants=("lorem",)),
    Setting("lorem_sigma", "float", 1.0, "Gaussian width of every charge, Å", positive=True, variants=("lorem",)),
    Setting("lorem_coulomb", "bool", False, "add the Coulomb energy ½Σ q_i φ_i of scalar charges that sum "
            "to the total charge; the model then outputs `charges`", variants=("lorem",)),
])


def resolve_config(config: dict) -> dict:
    """Check ``config`` and return a new dict with every key that applies (defaults filled in).

    Raises:
        ConfigError: for a missing required key, an unknown key, a key of another ``long_range``
            method, or an invalid value; the message names the key.
    """
    resolved = MODEL_SCHEMA.resolve(config)
    if resolved["long_range"] == "lorem" and resolved["lorem_l_max"] > 2 * resolved["l_max"]:
        raise ConfigError(
            f"config['lorem_l_max']={resolved['lorem_l_max']} exceeds 2·l_max={2 * resolved['l_max']}: "
            "charges are built from the features (linearly and by a product of two of them), "
            "so higher orders would be zero; raise l_max or lower lorem_l_max"
        )
    try:
        json.dumps(resolved)
    except TypeError as error:
        raise ConfigError(f"a model config must be JSON-serialisable: {error}") from None
    return resolved
