"""Charge equilibration with fragment constraints: the charge of each fragment is fixed.

With ``fragments`` (one index per atom) and ``fragment_charges`` (one total per fragment, e), Qeq
keeps Σ_{i∈f} q_i = Q_f for every fragment f: one chemical potential per fragment, no charge
transfer between fragments at any distance. The dense (bordered KKT) and CG (per-fragment
projection) solvers agree, implicit gradients stay exact, and a single fragment is the total-charge
constraint exactly.
"""

import pytest
import torch
from es_helpers import DTYPE, QEQ_GEOMETRIES, molecule, qeq_system

from lrcalc.electrostatics import QeqWarmStart, coulomb_energy, qeq, tune
from lrcalc.electrostatics.charge_equilibration.preconditioning import MESH_MAX_FRAGMENTS

FRAGMENT_CHARGES = [1.0, -0.5, 0.0]  # e; total 0.5


def three_fragments(n):
    """Atoms dealt to three fragments in turn (interleaved in space: the constraints, not the
    geometry, keep the charges apart)."""
    return torch.arange(n) % 3


def options(kind, cell, accuracy=1e-8):
    return {"cell": cell, "pbc": QEQ_GEOMETRIES[kind]["pbc"], "method": QEQ_GEOMETRIES[kind]["method"],
            "accuracy": accuracy}


def fragment_sums(q, fragments):
    return torch.zeros(int(fragments.max()) + 1, dtype=q.dtype).index_add_(0, fragments, q)


@pytest.mark.parametrize("kind", list(QEQ_GEOMETRIES))
def test_dense_and_cg_agree_and_keep_every_fragment_total(kind):
    pos, cell, chi, hardness, sigma = qeq_system(kind, n=18)
    frag = three_fragments(len(pos))
    totals = torch.tensor(FRAGMENT_CHARGES, dtype=DTYPE)
    opts = options(kind, cell)
    q_dense, e_dense, info_dense = qeq(pos, chi, hardness, sigma, 0.5, solver="dense", fragments=frag,
                                       fragment_charges=totals, return_info=True, **opts)
    q_cg, e_cg, info_cg = qeq(pos, chi, hardness, sigma, 0.5, solver="cg", tol=1e-12, fragments=frag,
                              fragment_charges=totals, return_info=True, **opts)
    assert info_dense.num_fragments == info_cg.num_fragments == 3
    for q in (q_dense, q_cg):
        assert float((fragment_sums(q, frag) - totals).abs().max()) < 1e-10
    assert float((q_dense - q_cg).abs().max()) < 1e-8
    assert float(e_cg) == pytest.approx(float(e_dense), rel=1e-10)
    # optimality: one chemical potential per fragment, ∂L/∂q_i = χ_i + J_i q_i + φ_i = μ_f
    gradient = chi + hardness * q_dense + info_dense.potential
    for f in range(3):
        spread = gradient[frag == f].max() - gradient[frag == f].min()
        assert float(spread) < 1e-8
    # ... and the energy is the Qeq functional, minimal among charges with the same fragment totals
    def functional(q):
        return float((chi * q).sum() + 0.5 * (hardness * q**2).sum()
                     + coulomb_energy(pos, q, sigma=sigma, **opts))

    assert float(e_dense) == pytest.approx(functional(q_dense), rel=1e-10)
    for seed in range(3):
        d = torch.randn(len(pos), generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
        d = d - (fragment_sums(d, frag) / fragment_sums(torch.ones_like(d), frag))[frag]
        assert functional(q_dense + 1e-3 * d) > float(e_dense)


def test_mesh_and_jacobi_preconditioners_keep_the_fragments():
    """The coarse-mesh preconditioner, projected per fragment, and Jacobi both converge to the dense
    solution; with more fragments than MESH_MAX_FRAGMENTS the mesh gives way to Jacobi."""
    pos, cell, chi, hardness, sigma = qeq_system("p3m", n=96, seed=4)
    params = tune(pos, cell, (True,) * 3, sigma, "p3m", 1e-6)
    frag = three_fragments(len(pos))
    totals = torch.tensor(FRAGMENT_CHARGES, dtype=DTYPE)
    q_dense, _ = qeq(pos, chi, hardness, sigma, 0.5, cell=cell, parameters=params, solver="dense",
                     fragments=frag, fragment_charges=totals)
    for preconditioner in ("mesh", "jacobi"):
        q_cg, _, info = qeq(pos, chi, hardness, sigma, 0.5, cell=cell, parameters=params, solver="cg",
                            tol=1e-12, preconditioner=preconditioner, fragments=frag, fragment_charges=totals,
                            return_info=True)
        assert info.preconditioner == preconditioner
        assert float((q_dense - q_cg).abs().max()) < 1e-8
        assert float((fragment_sums(q_cg, frag) - totals).abs().max()) < 1e-10
    many = torch.arange(len(pos)) % (MESH_MAX_FRAGMENTS + 1)
    many_totals = torch.zeros(MESH_MAX_FRAGMENTS + 1, dtype=DTYPE)
    q_many, _, info = qeq(pos, chi, hardness, sigma, cell=cell, parameters=params, solver="cg", tol=1e-10,
                          preconditioner="mesh", fragments=many, fragment_charges=many_totals,
                          return_info=True)
    assert info.preconditioner == "jacobi"
    assert float(fragment_sums(q_many, many).abs().max()) < 1e-10


@pytest.mark.parametrize("solver", ["dense", "cg"])
@pytest.mark.parametrize("kind", ["molecule", "ewald", "p3m"])
def test_one_fragment_is_the_total_charge_constraint(kind, solver):
    """Every atom in fragment 0 reproduces the total-charge solve bit for bit."""
    pos, cell, chi, hardness, sigma = qeq_system(kind, n=18, seed=2)
    opts = options(kind, cell, 1e-6)
    params = tune(pos, cell, opts["pbc"], sigma, opts["method"], 1e-6)
    opts["parameters"] = params
    x = chi.clone().requires_grad_(True)
    q_total, e_total = qeq(pos, x, hardness, sigma, -1.0, solver=solver, **opts)
    (g_total,) = torch.autograd.grad(e_total + q_total[0], x)
    y = chi.clone().requires_grad_(True)
    one = torch.zeros(len(pos), dtype=torch.long)
    q_one, e_one = qeq(pos, y, hardness, sigma, -1.0, solver=solver, fragments=one, fragment_charges=[-1.0],
                       **opts)
    (g_one,) = torch.autograd.grad(e_one + q_one[0], y)
    assert torch.equal(q_total, q_one) and torch.equal(e_total, e_one) and torch.equal(g_total, g_one)


def test_far_apart_fragments_keep_their_charges():
    """A cation and a neutral molecule 20 Å apart: the fragment constraint keeps +1 and 0 exactly,
    the global constraint moves charge onto the neutral molecule (the Qeq failure at dissociation)."""
    cation, _ = molecule(seed=3, n=6)
    neutral, _ = molecule(seed=4, n=5)
    pos = torch.cat([cation, neutral + torch.tensor([20.0, 0.0, 0.0], dtype=DTYPE)])
    gen = torch.Generator().manual_seed(5)
    chi = torch.randn(len(pos), generator=gen, dtype=DTYPE)
    hardness = 4.0 + 2.0 * torch.rand(len(pos), generator=gen, dtype=DTYPE)
    sigma = torch.full((len(pos),), 0.9, dtype=DTYPE)
    frag = torch.tensor([0] * 6 + [1] * 5)
    q_global, _ = qeq(pos, chi, hardness, sigma, 1.0, solver="dense")
    leaked = float(q_global[6:].sum())
    assert abs(leaked) > 0.1  # about 0.3 e of the cation's charge sits on the neutral molecule
    for solver in ("dense", "cg"):
        q, _ = qeq(pos, chi, hardness, sigma, 1.0, solver=solver, tol=1e-12, fragments=frag,
                   fragment_charges=[1.0, 0.0])
        assert abs(float(q[:6].sum()) - 1.0) < 1e-12 and abs(float(q[6:].sum())) < 1e-12


@pytest.mark.parametrize("solver", ["dense", "cg"])
@pytest.mark.parametrize("kind", ["molecule", "ewald"])
def test_gradcheck_with_fragments(kind, solver):
    """Exact first derivatives of charges and energy with several constraints."""
    pos, cell, chi, hardness, sigma = qeq_system(kind, n=6, seed=1)
    pbc = QEQ_GEOMETRIES[kind]["pbc"]
    params = tune(pos, cell, pbc, sigma, QEQ_GEOMETRIES[kind]["method"], 1e-8) if cell is not None else None
    frag = torch.tensor([0, 1, 0, 2, 1, 2])

    def fn(p, c, x, j, s):
        return qeq(p, x, j, s, 0.4, cell=c if cell is not None else None, pbc=pbc, solver=solver, tol=1e-13,
                   parameters=params, fragments=frag, fragment_charges=[0.6, -0.2, 0.0])

    inputs = [t.clone().requires_grad_(True)
              for t in (pos, cell if cell is not None else torch.eye(3, dtype=DTYPE), chi, hardness, sigma)]
    assert torch.autograd.gradcheck(fn, inputs, atol=1e-6, rtol=1e-5)


def test_gradgradcheck_energy_with_fragments():
    """Exact second derivatives of the Qeq energy (forces in a training loss) with fragments."""
    pos, cell, chi, hardness, sigma = qeq_system("ewald", n=4, seed=2)
    params = tune(pos, cell, (True,) * 3, sigma, "ewald", 1e-6)
    frag = torch.tensor([0, 0, 1, 1])

    def energy(p, x, j, s):
        return qeq(p, x, j, s, 0.0, cell=cell, solver="cg", tol=1e-13, parameters=params, fragments=frag,
                   fragment_charges=[0.5, -0.5])[1]

    inputs = [t.clone().requires_grad_(True) for t in (pos, chi, hardness, sigma)]
    assert torch.autograd.gradgradcheck(energy, inputs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("solver", ["dense", "cg"])
def test_forces_and_charge_derivatives_equal_finite_differences(solver):
    """Forces −∂E/∂r and ∂q/∂r of a fragment-constrained solve against central differences."""
    pos, cell, chi, hardness, sigma = qeq_system("ewald", n=12, seed=5)
    params = tune(pos, cell, (True,) * 3, sigma, "ewald", 1e-10)
    frag = three_fragments(len(pos))
    kwargs = {"cell": cell, "parameters": params, "solver": solver, "tol": 1e-13, "fragments": frag,
              "fragment_charges": FRAGMENT_CHARGES}
    p = pos.clone().requires_grad_(True)
    q, energy = qeq(p, chi, hardness, sigma, 0.5, **kwargs)
    weights = torch.linspace(-1.0, 1.0, len(pos), dtype=DTYPE)
    (forces,) = torch.autograd.grad(-energy, p, retain_graph=True)
    (charge_gradient,) = torch.autograd.grad((weights * q).sum(), p)
    h = 1e-5
    for atom, axis in ((2, 1), (7, 0), (11, 2)):
        plus, minus = pos.clone(), pos.clone()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        q_p, e_p = qeq(plus, chi, hardness, sigma, 0.5, **kwargs)
        q_m, e_m = qeq(minus, chi, hardness, sigma, 0.5, **kwargs)
        fd_force = -(float(e_p) - float(e_m)) / (2 * h)
        assert float(forces[atom, axis]) == pytest.approx(fd_force, rel=1e-6, abs=1e-9)
        fd = float((weights * (q_p - q_m)).sum()) / (2 * h)
        assert float(charge_gradient[atom, axis]) == pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_warm_start_with_fragments():
    """A warm start carried over MD steps keeps the fragment totals and matches cold solves; a coarse
    space recycled from solves of other fragments is dropped, not used."""
    pos, cell, chi, hardness, sigma = qeq_system("p3m", n=64, seed=6)
    frag = three_fragments(len(pos))
    warm = QeqWarmStart()
    kwargs = {"cell": cell, "solver": "cg", "tol": 1e-10, "fragments": frag,
              "fragment_charges": FRAGMENT_CHARGES}
    qeq(pos, chi, hardness, sigma, 0.5, warm_start=warm, **kwargs)
    moved = pos + 0.01 * torch.randn(pos.shape, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    q_warm, _ = qeq(moved, chi, hardness, sigma, 0.5, warm_start=warm, **kwargs)
    q_cold, _ = qeq(moved, chi, hardness, sigma, 0.5, **kwargs)
    torch.testing.assert_close(q_warm, q_cold, rtol=0, atol=1e-8)
    totals = torch.tensor(FRAGMENT_CHARGES, dtype=DTYPE)
    assert float((fragment_sums(q_warm, frag) - totals).abs().max()) < 1e-10
    assert warm.coarse_space is not None
    other = torch.arange(len(pos)) // 32  # two other fragments
    kwargs.update(fragments=other, fragment_charges=[0.0, 0.5])
    q_other, _ = qeq(moved, chi, hardness, sigma, 0.5, warm_start=warm, **kwargs)
    torch.testing.assert_close(q_other, qeq(moved, chi, hardness, sigma, 0.5, **kwargs)[0], rtol=0, atol=1e-8)
    assert float((fragment_sums(q_other, other) - torch.tensor([0.0, 0.5], dtype=DTYPE)).abs().max()) < 1e-10


def test_bad_fragment_input():
    pos, _, chi, hardness, sigma = qeq_system("molecule", n=4)
    frag = torch.tensor([0, 0, 1, 1])
    cases = [
        ({"fragments": frag}, "go together"),
        ({"fragment_charges": [0.0, 0.0]}, "go together"),
        ({"fragments": frag[:3], "fragment_charges": [0.0, 0.0]}, "one fragment index per atom"),
        ({"fragments": frag.double(), "fragment_charges": [0.0, 0.0]}, "integer"),
        ({"fragments": frag, "fragment_charges": [0.0, 0.0, 0.0]}, r"fragment\(s\) \[2\].*no atoms"),
        ({"fragments": frag + 1, "fragment_charges": [0.0, 0.0]}, "0 … F−1"),
        ({"fragments": frag, "fragment_charges": [1.0, 0.0]}, "add up to 1 e, but the total charge is 0 e"),
        ({"fragments": frag, "fragment_charges": [float("nan"), 0.0]}, "NaN"),
        ({"fragments": frag, "fragment_charges": []}, "empty"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            qeq(pos, chi, hardness, sigma, 0.0, **kwargs)
