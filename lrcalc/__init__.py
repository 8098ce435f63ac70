"""lrcalc: equivariant machine-learning interatomic potentials with long-range electrostatics.

Typical use::

    from lrcalc import LRCalculator
    atoms.calc = LRCalculator("bta_cu.pt")   # a shipped model, a file path, or a model object

Units everywhere: energy eV, length Å, charge e, force eV/Å, stress eV/Å³ (ASE conventions).
"""

__version__ = "0.1.0"

from .build import build_model
from .calculator import LRCalculator
from .errors import ConfigError, InputError, ModelFileError
from .graph import atoms_to_graph
from .model_file import load_model, save_model
from . import md
from .relaxation import RelaxationNotConverged, relax

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
