"""The ASE calculator: Atoms → graph → model → results, with the per-run state it owns."""

from __future__ import annotations

import copy
import os
from typing import Sequence

import numpy as np
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
        electric_field: a uniform external electric field (Ex, Ey, Ez) in V/Å, or ``None`` (no field;
            the models were trained at zero field). See "Electric fields" below.
        electrode_potentials: potentials Ψ_e (V) of electrodes 0, 1, … for a Qeq model, or ``None``;
            ``atoms.arrays["electrode"]`` gives each atom's electrode (−1: none). See "Electrodes".
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
    stress: asking for it raises ``PropertyNotImplementedError``. Stress is computed once it has been
    asked for, and from then on with every evaluation of the run (a cell optimizer's forces and stress
    come from one evaluation); constant-volume MD, which never asks, saves its cost. For stress in
    every frame of an ASE trajectory, ask once before the run (:func:`lrcalc.md.run` does).

    Models with charges (``"charges" in model.outputs``) add ``charges`` (e per atom;
    ``atoms.get_charges()``) and, for molecules, ``charges_dipole``; models with long range (Qeq or
    LOREM) add, for molecules, ``dipole`` (e·Å; ``atoms.get_dipole_moment()``). The total charge is ``atoms.info["charge"]`` (default 0); changing it
    invalidates the results like a change of positions does.

    Electric fields (models with long range; V/Å, ``calc.set(electric_field=...)`` invalidates the
    results). The field's potential φ_ext(r) = −E·r (origin at the coordinate origin) enters the
    charge equilibration of a Qeq model (χ_i → χ_i − E·r_i) and its energy, and LOREM's potentials
    (see :mod:`lrcalc.nn.equivariant_charges`); forces include q_i·E and the induced response.
    Molecules take a field in any direction; slabs only along the surface normal (perpendicular to
    their periodic cell vectors); a field along a periodic direction is refused (the position
    operator is not periodic). Two dipoles, both e·Å:

    - ``dipole`` = −∂E/∂E_field at the current field, from the same backward pass as the forces:
      the dipole that couples to a field, including the response of the charges and of everything
      they feed (for Qeq and LOREM models this differs from Σ q_i r_i);
    - ``charges_dipole`` = Σ q_i r_i of the predicted charges.

    A slab (two periodic directions) has ``normal_dipole`` instead (e·Å, a number): −∂E/∂E_n along
    the unit normal n = a × b / |a × b| of its periodic cell vectors a, b (in-plane components of a
    periodic system's dipole are not defined).

    ``born_effective_charges`` (``calc.get_property("born_effective_charges", atoms)``, [N, 3, 3],
    e, indexed [atom, field direction α, force direction β]) is Z*_{i,αβ} = ∂F_{iβ}/∂E_α by automatic
    differentiation (three more backward passes; computed only when asked for). For a neutral
    structure Σ_i Z*_i = 0 (acoustic sum rule); for total charge Q it is Q times the identity.

    Electrodes (Qeq models). Atoms of electrode e are held at the potential Ψ_e (V) by a reservoir,
    the constant-potential method of Siepmann–Sprik and Reed–Lanning–Madden: the charges minimise the
    grand potential Ω(q) = E_Qeq(q) − Σ_i Ψ_{e(i)} q_i under the model's charge constraint (the total
    charge: the electrodes exchange charge with each other through the circuit, and with the rest),
    i.e. χ_i → χ_i − Ψ_{e(i)}. ``energy`` is then Ω (eV) and the forces −∂Ω/∂r at fixed potentials,
    what MD at constant potential needs. Only differences of potentials matter (a common shift is
    absorbed by the constraint's multiplier). :func:`lrcalc.electrostatics.constant_potential_charges`
    does the same for plain Gaussian charges.

    Committees. Given several models (a list of files, names or model objects with the same
    species), the calculator evaluates each and returns their mean for every result, and the
    spread: ``energy_spread`` (eV, standard deviation of the members' energies), ``forces_spread``
    ([N], eV/Å: per atom √(Σ_α Var_m F_iα), the length of the force standard-deviation vector),
    ``committee_energies`` ([M], eV) and, with a cell, ``stress_spread`` (eV/Å³, Voigt). A large
    spread marks a structure the members disagree on: far from their training data.

    Per-run state lives here, not in the model: a :class:`~lrcalc.electrostatics.QeqWarmStart` for
    Qeq models keeps the Coulomb parameters tuned at the first call fixed while the cell does (one
    smooth energy surface per MD run), and for large systems (iterative charge solve) starts the
    next solves from the last steps' solutions, extrapolated, with their search directions as a
    preconditioner; results are the same to the solver tolerance, in fewer iterations. Pickling a
    calculator (multiprocessing, socket clients) keeps the model and settings and starts that state
    afresh.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]
    default_parameters = {"device": "cpu", "dtype": None, "coulomb_accuracy": None, "electric_field": None,
                          "electrode_potentials": None}
    CHARGE_PROPERTIES = ["charges", "charges_dipole"]
    FIELD_PROPERTIES = ["dipole", "normal_dipole", "born_effective_charges"]
    COMMITTEE_PROPERTIES = ["energy_spread", "forces_spread", "stress_spread", "committee_energies"]

    def __init__(
        self,
        model: AtomisticModel | str | os.PathLike | Sequence,
        device: str | torch.device = "cpu",
        dtype: str | None = None,
        coulomb_accuracy: float | None = None,
        qeq_accuracy: float | None = None,
        electric_field=None,
        electrode_potentials=None,
        label: str | None = None,
        atoms=None,
        directory: str = ".",
    ):
        members = list(model) if isinstance(model, (list, tuple)) else [model]
        if not members:
            raise ValueError("LRCalculator needs a model; got an empty list")
        names, self._source_models, self._owns_sources = [], [], []
        for member in members:
            name, source, owned = _source(member)
            names.append(name)
            self._source_models.append(source)
            self._owns_sources.append(owned)
        if len(members) > 1:
            _check_committee(self._source_models, names)
        self.model_name = names[0] if len(names) == 1 else "committee(" + ", ".join(map(str, names)) + ")"
        self.model: AtomisticModel | None = None
        self.models: list[AtomisticModel] = []
        self._warm_starts: list = []
        self._stress_asked = False
        super().__init__(label=label, atoms=atoms, directory=directory)
        settings = {"device": str(device), "dtype": dtype, "coulomb_accuracy": coulomb_accuracy,
                    "electric_field": electric_field, "electrode_potentials": electrode_potentials}
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
        if "electric_field" in kwargs:
            kwargs["electric_field"] = self._checked_field(kwargs["electric_field"])
        if "electrode_potentials" in kwargs:
            kwargs["electrode_potentials"] = self._checked_electrode_potentials(kwargs["electrode_potentials"])
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

    @property
    def _source_model(self) -> AtomisticModel:
        return self._source_models[0]

    @property
    def is_committee(self) -> bool:
        return len(self._source_models) > 1

    def _checked_field(self, field) -> tuple[float, float, float] | None:
        if field is None:
            return None
        try:
            values = np.asarray(field, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise ValueError(f"electric_field must be three numbers (Ex, Ey, Ez) in V/Å, got {field!r}") from None
        if values.shape != (3,) or not np.isfinite(values).all():
            raise ValueError(f"electric_field must be three finite numbers (Ex, Ey, Ez) in V/Å, got {field!r}")
        if not np.any(values):
            return None  # zero field: the same as none
        without = [s for s in self._source_models if s.long_range is None]
        if without:
            raise ValueError(
                "electric_field needs a model with long range (long_range 'qeq' or 'lorem'); "
                f"{self.model_name if not self.is_committee else 'a committee member'} is short-ranged "
                "and has no charges to couple to the field"
            )
        return tuple(float(v) for v in values)

    def _checked_electrode_potentials(self, potentials) -> tuple[float, ...] | None:
        if potentials is None:
            return None
        try:
            values = np.atleast_1d(np.asarray(potentials, dtype=float))
        except (TypeError, ValueError):
            raise ValueError(f"electrode_potentials must be numbers (V), one per electrode, got {potentials!r}") from None
        if values.ndim != 1 or not len(values) or not np.isfinite(values).all():
            raise ValueError(f"electrode_potentials must be finite numbers (V), one per electrode, got {potentials!r}")
        if any(source.config.get("long_range") != "qeq" for source in self._source_models):
            raise ValueError("electrode_potentials need a Qeq model (long_range 'qeq'): the electrodes' charges "
                             "are equilibrated at the set potentials")
        return tuple(float(v) for v in values)

    def _checked_accuracy(self, accuracy) -> float:
        if all(source.long_range is None for source in self._source_models):
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
        device = torch.device(self.parameters["device"])
        self.models = []
        for source, owned in zip(self._source_models, self._owns_sources):  # never changed, unless ours
            dtype = DTYPES[self.parameters["dtype"]] if self.parameters["dtype"] else source.dtype
            if owned and dtype == source.dtype and device == source.device:
                model = source
            else:  # a copy: a round trip float64 → float32 → float64 must not lose the source's digits
                model = copy.deepcopy(source).to(device=device, dtype=dtype)
            for parameter in model.parameters():
                parameter.requires_grad_(False)
            self.models.append(model.eval())
        self.model = self.models[0]
        self.device = device
        self.implemented_properties = list(type(self).implemented_properties)
        if all(model.long_range is not None for model in self.models):
            self.implemented_properties += self.FIELD_PROPERTIES
        if all("charges" in model.outputs for model in self.models):
            self.implemented_properties += self.CHARGE_PROPERTIES
        if self.is_committee:
            self.implemented_properties += self.COMMITTEE_PROPERTIES
        self.training_domain = TrainingDomain.from_metadata(self.model.metadata)
        self._domain_warnings = DomainWarnings()
        self.reset_run_state()

    def total_charge(self, atoms) -> tuple[float, str | None]:
        """The structure's total charge (e): ``atoms.info["charge"]``, else the key(s) the model was
        trained with (``total_charge``, ``chargeA`` + ``chargeB``, …), else the sum of
        ``atoms.info["fragment_charges"]``, else 0; and the recorded key(s) it came from, if it did."""
        if self.training_domain is not None:
            charge, source = self.training_domain.total_charge(atoms.info)
            if source is not None or "charge" in atoms.info:
                return charge, source
        elif "charge" in atoms.info:
            return float(atoms.info["charge"]), None
        if "fragment_charges" in atoms.info:
            return float(np.sum(atoms.info["fragment_charges"])), None
        return 0.0, None

    def structure_inputs(self, atoms) -> dict:
        """What a result depends on besides positions, numbers, cell and pbc (which ASE's
        ``check_state`` compares): the total charge (e). ASE does not compare ``atoms.info``, so a
        changed total charge must invalidate results through this."""
        inputs = {"total_charge": self.total_charge(atoms)[0]}
        for key in ("electrode", "fragment"):  # per-atom inputs that ASE's check_state does not compare
            if key in atoms.arrays:
                inputs[key] = tuple(int(v) for v in atoms.arrays[key])
        if "fragment_charges" in atoms.info:
            inputs["fragment_charges"] = tuple(np.atleast_1d(atoms.info["fragment_charges"]).tolist())
        return inputs

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
        from .electrostatics import QeqWarmStart

        uses_qeq = [model.config.get("long_range") == "qeq" for model in self.models]
        if qeq_warm_start is not None and (not any(uses_qeq) or self.is_committee):
            raise ValueError("qeq_warm_start applies only to models with long_range 'qeq', one at a time"
                             + (" (each committee member gets its own)" if self.is_committee else ""))
        self._warm_starts = [(qeq_warm_start or QeqWarmStart()) if qeq else None for qeq in uses_qeq]
        self._stress_asked = False

    @property
    def qeq_warm_start(self):
        """The :class:`~lrcalc.electrostatics.QeqWarmStart` of this run (``None`` for models without
        Qeq; a committee's first member's); its ``stats`` hold the iterations and residuals of every
        charge and adjoint solve."""
        return self._warm_starts[0] if self._warm_starts else None

    # -- ASE protocol -------------------------------------------------------------------------
    def check_state(self, atoms, tol=1e-15):
        changes = super().check_state(atoms, tol)
        if self.atoms is not None and self.structure_inputs(atoms) != self.structure_inputs(self.atoms):
            changes.append("info")  # ASE compares no atoms.info; the total charge lives there
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        total_charge, source = self.total_charge(atoms)
        if {"numbers", "pbc", "info"} & set(system_changes):  # what the domain checks depend on
            self._check_domain(atoms, total_charge, source)
        cell = atoms.cell.array
        # a non-finite cell is reported by the structure checks below, not by numpy's determinant
        has_volume = bool(atoms.pbc.any()) and bool(np.isfinite(cell).all()) and abs(np.linalg.det(cell)) > 1e-12
        if "stress" in properties and not has_volume:
            raise PropertyNotImplementedError(
                "stress needs a periodic cell with a volume; this structure has "
                f"pbc={tuple(bool(p) for p in atoms.pbc)} and cell volume {atoms.cell.volume:.3g} Å³"
            )
        is_slab = int(atoms.pbc.sum()) == 2
        if "dipole" in properties and atoms.pbc.any():
            raise PropertyNotImplementedError(
                "dipole: the dipole moment is defined for molecules (pbc=False) only; this structure has "
                f"pbc={tuple(bool(p) for p in atoms.pbc)} (a slab has 'normal_dipole'; or use get_charges() "
                "and your own origin and axis)"
            )
        if "normal_dipole" in properties and not is_slab:
            raise PropertyNotImplementedError(
                "normal_dipole is the dipole along the normal of a slab (two periodic directions); this "
                f"structure has pbc={tuple(bool(p) for p in atoms.pbc)}"
                + (" (a molecule has 'dipole')" if not atoms.pbc.any() else "")
            )
        field = self.parameters["electric_field"]
        if field is not None:
            check_field_direction(atoms, field)
        applied = electrode_potential_per_atom(atoms, self.parameters["electrode_potentials"])
        is_molecule = not atoms.pbc.any()
        has_charges = "charges" in self.implemented_properties
        responds_to_field = "dipole" in self.implemented_properties
        wants_born = "born_effective_charges" in properties
        # Stress when asked, and from then on with every evaluation of the run: a cell optimizer asking for
        # forces and then stress evaluates the model once per step after its first, while MD at constant
        # volume, which never asks, skips the strain derivatives (46-atom BTA/Cu slab, bta_cu.pt:
        # 28.2 → 27.0 ms per step; bta_cu_sr.pt 20.0 → 19.4).
        self._stress_asked = self._stress_asked or "stress" in properties
        with_stress = has_volume and self._stress_asked
        graphs = {}
        outputs = []
        for model, warm_start in zip(self.models, self._warm_starts):
            key = (tuple(model.species), float(model.cutoff))
            if key not in graphs:
                graph = atoms_to_graph(  # validates the structure first; geometry in float64
                    atoms, model.species, model.cutoff, dtype=torch.float64, device=self.device
                )
                graph["total_charge"] = torch.tensor([total_charge], dtype=torch.float64, device=self.device)
                if field is not None:
                    graph["electric_field"] = torch.tensor([field], dtype=torch.float64, device=self.device)
                if applied is not None:
                    graph["applied_potential"] = torch.as_tensor(applied, dtype=torch.float64, device=self.device)
                graphs[key] = graph
            options = EvaluationOptions(coulomb_accuracy=self.parameters["coulomb_accuracy"],
                                        qeq_warm_start=warm_start)
            # The molecule's dipole −∂E/∂E_field comes from the same backward pass.
            out = model(graphs[key], compute_forces=True, compute_stress=with_stress, options=options,
                        compute_dipole=responds_to_field and (is_molecule or is_slab),
                        compute_born_charges=wants_born)
            outputs.append({name: value.cpu().double().numpy() for name, value in out.items()})
        self.results = committee_results(outputs, atoms, with_stress, committee=self.is_committee)

    # -- pickling -----------------------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_warm_starts"] = []  # per-run state: a copy starts its own run
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.reset_run_state()


VOIGT = ([0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1])
"""Index pairs of a 3×3 stress in ASE's Voigt order xx, yy, zz, yz, xz, xy."""


def _source(model) -> tuple[str | None, AtomisticModel, bool]:
    """(name, model, owned by the calculator) for a model object, a model file or a shipped name."""
    if isinstance(model, (str, os.PathLike)):
        return str(model), load_model(model), True
    if isinstance(model, AtomisticModel):
        return getattr(model, "source_path", None), model, False
    raise TypeError(
        f"LRCalculator needs an lrcalc model, a model file path or a shipped model name (or a list of them "
        f"for a committee), got {type(model).__name__}"
    )


def _check_committee(models: list[AtomisticModel], names: list) -> None:
    """Committee members must describe the same atoms: the same species, and charges in all or none."""
    for model, name in zip(models[1:], names[1:]):
        if list(model.species) != list(models[0].species):
            raise ValueError(f"committee members need the same species: {names[0]} has {list(models[0].species)}, "
                             f"{name} has {list(model.species)}")


def check_field_direction(atoms, field) -> None:
    """Refuse a field with a component along a periodic cell vector (the position operator, and so
    the field's potential −E·r, is not periodic there)."""
    e = np.asarray(field, dtype=float)
    for axis in np.flatnonzero(atoms.pbc):
        a = np.asarray(atoms.cell[axis], dtype=float)
        if abs(e @ a) > 1e-9 * np.linalg.norm(e) * max(np.linalg.norm(a), 1.0):
            raise ValueError(
                f"electric_field {tuple(e)} V/Å has a component along periodic cell vector {axis} "
                f"({tuple(np.round(a, 4))} Å); a uniform field is allowed only along non-periodic "
                "directions (any direction for a molecule, the surface normal for a slab)"
            )


def electrode_potential_per_atom(atoms, potentials) -> np.ndarray | None:
    """Ψ_i (V, [N]): the potential of each atom's electrode (``atoms.arrays["electrode"]``; −1 or no
    electrode: 0), or ``None`` without ``electrode_potentials``."""
    if potentials is None:
        return None
    if "electrode" not in atoms.arrays:
        raise ValueError("electrode_potentials are set but the structure has no atoms.arrays['electrode'] (the "
                         "electrode 0, 1, … of each atom, −1 for the others)")
    index = np.asarray(atoms.arrays["electrode"])
    if not np.issubdtype(index.dtype, np.integer) or index.min() < -1 or index.max() >= len(potentials):
        raise ValueError(f"atoms.arrays['electrode'] must hold integers from −1 (no electrode) to "
                         f"{len(potentials) - 1} (one per potential in electrode_potentials); it holds "
                         f"{sorted(set(index.tolist()))[:10]}")
    values = np.concatenate([np.asarray(potentials, dtype=float), [0.0]])
    return values[index]  # index −1 picks the appended 0


def committee_results(outputs: list[dict], atoms, with_stress: bool, committee: bool) -> dict:
    """ASE results from the members' outputs (numpy, float64): the mean of each, and for a
    committee the spreads (see :class:`LRCalculator`)."""
    def mean(name):
        if len(outputs) == 1:
            return outputs[0][name]
        return np.mean([out[name] for out in outputs], axis=0)

    energies = np.array([float(out["energy"][0]) for out in outputs])
    results = {"energy": float(energies.mean()), "free_energy": float(energies.mean()),
               "energies": mean("atomic_energies"), "forces": mean("forces")}
    if with_stress:
        results["stress"] = mean("stress")[0][VOIGT]
    if "charges" in outputs[0]:
        results["charges"] = mean("charges")
        if not atoms.pbc.any():
            results["charges_dipole"] = results["charges"] @ atoms.positions
    if "dipole" in outputs[0]:
        dipole = mean("dipole")[0]
        if not atoms.pbc.any():
            results["dipole"] = dipole
        else:  # a slab: only the component along the normal n = a × b / |a × b| is defined
            periodic = np.asarray(atoms.cell)[np.flatnonzero(atoms.pbc)]
            normal = np.cross(periodic[0], periodic[1])
            results["normal_dipole"] = float(dipole @ normal / np.linalg.norm(normal))
    if "born_effective_charges" in outputs[0]:
        results["born_effective_charges"] = mean("born_effective_charges")
    if committee:
        forces = np.array([out["forces"] for out in outputs])  # [M, N, 3]
        results["committee_energies"] = energies
        results["energy_spread"] = float(energies.std())
        results["forces_spread"] = np.sqrt(forces.var(axis=0).sum(axis=-1))
        if with_stress:
            results["stress_spread"] = np.array([out["stress"][0][VOIGT] for out in outputs]).std(axis=0)
    return results
