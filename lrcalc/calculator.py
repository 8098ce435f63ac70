"""The ASE calculator: Atoms → graph → model → results, with the per-run state it owns."""

from __future__ import annotations

import copy
import os

import torch
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from .domain import DomainWarnings, TrainingDomain
from .graph import atoms_to_graph
from .model_file import load_model
from .nn.fields import EvaluationOptions
from .nn.model import AtomisticModel

DTYPES = {"float32": torch.float32, "float64": torch.float64}
ALIASES = {"qeq_accuracy": "coulomb_accuracy"}
"""Older parameter names, still accepted."""


class LRCalculator(Calculator):
    """ASE calculator for lrcalc models.

    Args:
        model: an lrcalc model (from :func:`lrcalc.build_model` or :func:`lrcalc.load_model`), a
            path to a model file, or the bare name of a shipped model in ``models/``
            (``"bta_cu.pt"``), found from any working directory. A model object is copied: the
            calculator never changes the model it was given (its dtype, device, settings or
            ``requires_grad`` flags), and later changes of that object do not reach the calculator.
        device: torch device to evaluate on (``"cpu"``, ``"cuda"``).
        dtype: ``"float32"`` or ``"float64"`` for the network; ``None`` keeps the model's. Geometry,
            charges and electrostatics are float64 either way.
        coulomb_accuracy: relative accuracy of the Coulomb sums and of the charge solve of a model
            with long range (``qeq`` or ``lorem``); ``None`` keeps the model's ``coulomb_accuracy``.
            ``qeq_accuracy`` is an older name of it.
        label, atoms, directory: as for any ASE calculator.

    An unknown keyword argument is an error. Settings are ASE parameters: ``calc.set(dtype="float64")``
    or ``calc.set(coulomb_accuracy=1e-6)`` changes them and discards the results; ``calc.todict()``
    lists them.

    Results (ASE units): ``energy`` and ``free_energy`` (eV; equal, the model has no electronic
    entropy), ``energies`` (per-atom energies, eV, summing to ``energy``), ``forces`` (eV/Å) and
    ``stress`` (eV/Å³, Voigt order xx, yy, zz, yz, xz, xy, ASE sign convention).

    Stress needs a cell with a volume. For a 3-D periodic cell it is the usual stress. A slab
    (``pbc=(True, True, False)``) gets (1/V)·∂E/∂ε with V the volume of the whole cell, vacuum
    included: the in-plane components (xx, yy, xy) are what in-plane cell relaxations need, and
    multiplying by the cell height gives the surface stress in eV/Å²; the components along the
    non-periodic axis carry no pressure of a surrounding medium. A molecule (no periodicity) has no
    stress: asking for it raises ``PropertyNotImplementedError``.

    Models with charges (``"charges" in model.outputs``) add ``charges`` (e per atom;
    ``atoms.get_charges()``) and, for molecules, ``dipole`` (Σ q_i r_i in e·Å;
    ``atoms.get_dipole_moment()``). The total charge is ``atoms.info["charge"]`` (default 0); changing
    it invalidates the results like a change of positions does.

    Per-run state lives here, not in the model: a :class:`~lrcalc.electrostatics.QeqWarmStart` for
    Qeq models keeps the Coulomb parameters tuned at the first call fixed while the cell does (one
    smooth energy surface per MD run), and for large systems (iterative charge solve) starts the
    next solves from the last steps' solutions, extrapolated, with their search directions as a
    preconditioner; results are the same to the solver tolerance, in fewer iterations. Pickling a
    calculator (multiprocessing, socket clients) keeps the model and settings and starts that state
    afresh.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]
    default_parameters = {"device": "cpu", "dtype": None, "coulomb_accuracy": None}

    def __init__(
        self,
        model: AtomisticModel | str | os.PathLike,
        device: str | torch.device = "cpu",
        dtype: str | None = None,
        coulomb_accuracy: float | None = None,
        qeq_accuracy: float | None = None,
        label: str | None = None,
        atoms=None,
        directory: str = ".",
    ):
        if isinstance(model, (str, os.PathLike)):
            self.model_name = str(model)
            self._source_model = load_model(model)  # our own object
            self._owns_source = True
        elif isinstance(model, AtomisticModel):
            self.model_name = getattr(model, "source_path", None)
            self._source_model = model
            self._owns_source = False
        else:
            raise TypeError(
                f"LRCalculator needs an lrcalc model, a model file path or a shipped model name, "
                f"got {type(model).__name__}"
            )
        self.model: AtomisticModel | None = None
        self._warm_start = None
        super().__init__(label=label, atoms=atoms, directory=directory)
        settings = {"device": str(device), "dtype": dtype, "coulomb_accuracy": coulomb_accuracy}
        if qeq_accuracy is not None:
            if coulomb_accuracy is not None:
                raise ValueError("give coulomb_accuracy or its older name qeq_accuracy, not both")
            settings["coulomb_accuracy"] = qeq_accuracy
        self.set(**settings)
        if self.model is None:  # set() changed nothing from the defaults
            self._prepare_model()

    # -- settings -----------------------------------------------------------------------------
    def set(self, **kwargs) -> dict:
        """Change settings (ASE parameters); results are discarded when a setting changes.

        Raises:
            TypeError: an unknown setting. ValueError: a value out of range or one that does not
            apply to this model (``coulomb_accuracy`` for a model without long range).
        """
        kwargs = {ALIASES.get(key, key): value for key, value in kwargs.items()}
        unknown = sorted(set(kwargs) - set(self.default_parameters))
        if unknown:
            raise TypeError(
                f"LRCalculator got unknown setting(s) {', '.join(unknown)}; "
                f"its settings are {', '.join(self.default_parameters)} (and qeq_accuracy, an older name)"
            )
        if "dtype" in kwargs:
            kwargs["dtype"] = self._checked_dtype(kwargs["dtype"])
        if "device" in kwargs:
            kwargs["device"] = str(torch.device(kwargs["device"]))
        if kwargs.get("coulomb_accuracy") is not None:
            kwargs["coulomb_accuracy"] = self._checked_accuracy(kwargs["coulomb_accuracy"])
        changed = super().set(**kwargs)
        if changed:
            self.reset()  # results of other settings are no results of these
            self._prepare_model()
        return changed

    @staticmethod
    def _checked_dtype(dtype):
        if dtype is None:
            return None
        name = str(dtype).replace("torch.", "")
        if name not in DTYPES:
            raise ValueError(f"dtype must be 'float32', 'float64' or None (the model's), got {dtype!r}")
        return name

    def _checked_accuracy(self, accuracy) -> float:
        if self._source_model.long_range is None:
            raise ValueError(
                "coulomb_accuracy (qeq_accuracy) applies only to models with long-range electrostatics "
                f"(long_range 'qeq' or 'lorem'); this model has long_range "
                f"{self._source_model.config.get('long_range', 'none')!r}"
            )
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 1e-12 <= accuracy <= 1e-2:
            raise ValueError(f"coulomb_accuracy must lie in [1e-12, 1e-2], got {accuracy!r}")
        return float(accuracy)

    def _prepare_model(self) -> None:
        """The model this calculator evaluates: the given one in the requested device and dtype,
        with frozen parameters (inference needs derivatives with respect to positions and strain
        only; autograd then records no graph for parameter-only work, ~11 % per step)."""
        source = self._source_model  # never changed, unless loaded by this calculator
        dtype = DTYPES[self.parameters["dtype"]] if self.parameters["dtype"] else source.dtype
        device = torch.device(self.parameters["device"])
        if self._owns_source and dtype == source.dtype and device == source.device:
            model = source
        else:  # a copy: a round trip float64 → float32 → float64 must not lose the source's digits
            model = copy.deepcopy(source).to(device=device, dtype=dtype)
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        self.model = model.eval()
        self.device = device
        self.implemented_properties = list(type(self).implemented_properties)
        if "charges" in model.outputs:
            self.implemented_properties += ["charges", "dipole"]
        self.training_domain = TrainingDomain.from_metadata(model.metadata)
        self._domain_warnings = DomainWarnings()
        self.reset_run_state()

    def total_charge(self, atoms) -> tuple[float, str | None]:
        """The structure's total charge (e): ``atoms.info["charge"]``, else the key(s) the model was
        trained with (``total_charge``, ``chargeA`` + ``chargeB``, …), else 0; and the recorded key(s)
        it came from, if it did."""
        if self.training_domain is not None:
            return self.training_domain.total_charge(atoms.info)
        return float(atoms.info.get("charge", 0.0)), None

    def structure_inputs(self, atoms) -> dict:
        """What a result depends on besides positions, numbers, cell and pbc (which ASE's
        ``check_state`` compares): the total charge (e). ASE does not compare ``atoms.info``, so a
        changed total charge must invalidate results through this."""
        return {"total_charge": self.total_charge(atoms)[0]}

    def _check_domain(self, atoms, total_charge: float, source: str | None) -> None:
        """Warn (once per kind) where the structure leaves what the model can use or was trained on."""
        warn = self._domain_warnings.warn
        name = self.model_name or "the model"
        if source is not None and total_charge != 0:  # a recorded 0 changes nothing: no word
            warn("charge key", f"{name}: total charge {total_charge:g} e read from atoms.info[{source!r}], "
                               "the key(s) the model was trained with; atoms.info['charge'] overrides it")
        if self.training_domain is None:
            if total_charge != 0 and not self.model.uses_total_charge:
                warn("charge", f"{name}: total charge {total_charge:g} e given, but this model has no charge "
                               "input and no long range: it computes the neutral energy")
            return
        for kind, message in self.training_domain.problems(atoms, total_charge,
                                                            self.model.uses_total_charge).items():
            warn(kind, f"{name}: {message}")

    def reset_run_state(self, qeq_warm_start=None) -> None:
        """Forget what was carried between calls (warm start, frozen Coulomb parameters) and start a
        new run, for a Qeq model with ``qeq_warm_start`` if given (a
        :class:`~lrcalc.electrostatics.QeqWarmStart`, e.g. ``QeqWarmStart(recycle=False)``), else a
        default one."""
        self._warm_start = None
        if self.model is not None and self.model.config.get("long_range") == "qeq":
            from .electrostatics import QeqWarmStart

            self._warm_start = qeq_warm_start if qeq_warm_start is not None else QeqWarmStart()
        elif qeq_warm_start is not None:
            raise ValueError("qeq_warm_start applies only to models with long_range 'qeq'")

    @property
    def qeq_warm_start(self):
        """The :class:`~lrcalc.electrostatics.QeqWarmStart` of this run (``None`` for models without
        Qeq); its ``stats`` hold the iterations and residuals of every charge and adjoint solve."""
        return self._warm_start

    # -- ASE protocol -------------------------------------------------------------------------
    def check_state(self, atoms, tol=1e-15):
        changes = super().check_state(atoms, tol)
        if self.atoms is not None and self.structure_inputs(atoms) != self.structure_inputs(self.atoms):
            changes.append("info")  # ASE compares no atoms.info; the total charge lives there
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        graph = atoms_to_graph(  # validates the structure first; geometry in float64
            atoms, self.model.species, self.model.cutoff, dtype=torch.float64, device=self.device
        )
        total_charge, source = self.total_charge(atoms)
        graph["total_charge"] = torch.tensor([total_charge], dtype=torch.float64, device=self.device)
        if {"numbers", "pbc", "info"} & set(system_changes):  # what the domain checks depend on
            self._check_domain(atoms, total_charge, source)
        has_volume = bool(atoms.pbc.any()) and abs(atoms.cell.volume) > 1e-12
        if "dipole" in properties and atoms.pbc.any():
            raise PropertyNotImplementedError(
                "dipole: the dipole moment Σ q_i r_i is defined for molecules (pbc=False) only; this "
                f"structure has pbc={tuple(bool(p) for p in atoms.pbc)} (use get_charges() and your "
                "own origin and axis)"
            )
        if "stress" in properties and not has_volume:
            raise PropertyNotImplementedError(
                "stress needs a periodic cell with a volume; this structure has "
                f"pbc={tuple(bool(p) for p in atoms.pbc)} and cell volume {atoms.cell.volume:.3g} Å³"
            )
        options = EvaluationOptions(coulomb_accuracy=self.parameters["coulomb_accuracy"],
                                    qeq_warm_start=self._warm_start)
        # Stress costs little beyond the forces: compute it whenever it is defined, so that an
        # optimizer asking for forces and then stress does not evaluate the model twice.
        out = self.model(graph, compute_forces=True, compute_stress=has_volume, options=options)
        energy = float(out["energy"][0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out["atomic_energies"].cpu().double().numpy(),
            "forces": out["forces"].cpu().double().numpy(),
        }
        if has_volume:
            stress = out["stress"][0].cpu().double().numpy()
            self.results["stress"] = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        if "charges" in self.model.outputs:
            self.results["charges"] = out["charges"].cpu().double().numpy()
            if not atoms.pbc.any():
                self.results["dipole"] = self.results["charges"] @ atoms.positions

    # -- pickling -----------------------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_warm_start"] = None  # per-run state: a copy starts its own run
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.reset_run_state()
