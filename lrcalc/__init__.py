"""lrcalc: equivariant machine-learning interatomic potentials with long-range electrostatics.

Typical use::

    from lrcalc import LRCalculator
    atoms.calc = LRCalculator("bta_cu.pt")   # a shipped model, a file path, or a model object

Units everywhere: energy eV, length Å, charge e, force eV/Å, stress eV/Å³ (ASE conventions).
"""

__version__ = "0.1.0"

import importlib

_EXPORTS = {
    "LRCalculator": ".calculator",
    "build_model": ".build",
    "load_model": ".model_file",
    "save_model": ".model_file",
    "atoms_to_graph": ".graph",
    "relax": ".relaxation",
    "RelaxationNotConverged": ".relaxation",
    "InputError": ".errors",
    "ModelFileError": ".errors",
    "ConfigError": ".errors",
}
_SUBMODULES = ("md", "analysis", "electrostatics", "structures", "training", "domain", "ipi", "lammps")


def __getattr__(name: str):
    """Import on first use (PEP 562): ``import lrcalc`` stays cheap, so ``lrcalc --help`` does not
    wait for torch and e3nn."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'lrcalc' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))


__all__ = [
    "LRCalculator",
    "build_model",
    "load_model",
    "save_model",
    "atoms_to_graph",
    "md",
    "relax",
    "RelaxationNotConverged",
    "InputError",
    "ModelFileError",
    "ConfigError",
    "__version__",
]
