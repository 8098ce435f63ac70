r"""Differentiable Qeq charges and energy from a detached solution (implicit differentiation).

With :math:`q^*` (e) the detached solution, :math:`S` the constrained inverse of
:math:`H` (e²/eV; :math:`y = Sb` solves :math:`Hy = b - Cc`, :math:`C^{\mathsf T}y = 0`, with
:math:`C` the indicator of the fragments of :mod:`.constraints`, :math:`\mathbf 1` for the total
charge alone) and the projected residual :math:`r(\theta) = -P\,\nabla_q L(q^*;\theta)` (eV/e;
``P`` removes each fragment's mean; zero in value, but carrying the dependence on
:math:`\theta = (\chi, J, \sigma, \text{positions}, \text{cell})`):

.. math::

    q = q^* + S\,r(\theta), \qquad E = L(q^*;\theta) - \tfrac12\, r^{\mathsf T} S\, r .

Both are exact in value (a Newton step from :math:`q^*`), the first derivatives of :math:`q` and
:math:`E` are exact (an adjoint solve with :math:`S` in the backward pass), and so are the second
derivatives of :math:`E` (forces in a training loss, Hessians): the quadratic correction supplies
the :math:`-\partial_\theta\nabla_q L\, S\, \nabla_q \partial_\theta L` term. Nothing here
depends on the number of constraints: the fragment totals :math:`Q_f` are constants, :math:`S` and
:math:`P` carry the constraints, and :math:`SP = S`.

Second derivatives of the *charges*: a backward pass that keeps its graph (``create_graph``)
returns the adjoint :math:`y = S(\theta)\,g` as

.. math::

    y = y^* + S\,\big(g - H(\theta)\,y^*\big), \qquad y^* = S g \ \text{(detached)},

equal to :math:`y^*` in value (the bracket is a combination of the constraint vectors, which
:math:`S` maps to zero) and carrying the derivative :math:`-S\,(\partial_\theta H)\,y^*` of the
solve itself, from one more differentiable application of :math:`H` (Coulomb operator and hardness).
That makes exact every second derivative taken first with respect to χ, or to what enters only
through χ, then with respect to anything: Born charges ∂²E/∂E_field∂r (the field shifts χ), tested.
Taken in the other order (first the positions, then θ, as a force loss in training does), the term
:math:`-S\,(\partial_{r} H)\,\partial_\theta q` of the detached :math:`q^*` is still missing.
First-order backward passes are unchanged. Apart from that, one differentiable
application of the Coulomb operator is made, so memory stays O(N).
"""

import torch

from .hardness import HardnessSolver


class _ConstrainedSolve(torch.autograd.Function):
    """``y = S b`` with the backward ``S g`` (S is symmetric); twice differentiable in b.

    With ``skip=True`` the forward value is returned as zero without solving (used when
    ``b`` is known to be below the solver tolerance); the backward always solves.
    """

    @staticmethod
    def forward(ctx, b, solver, skip):
        ctx.solver = solver
        if skip:
            return torch.zeros_like(b)
        return solver.constrained_inverse(b.detach())

    @staticmethod
    def backward(ctx, grad):
        return _ConstrainedSolve.apply(grad, ctx.solver, False), None, None


class _NewtonCorrection(torch.autograd.Function):
    """``S r`` for a residual ``r`` that is zero up to the solver tolerance.

    The forward value is returned as zero (it is below the tolerance); the backward is the
    exact adjoint solve ``S g``. An incoming gradient no larger than ``|r|`` (the energy's
    own ``-r/2`` term in a force computation) only contributes at the solver tolerance:
    its solve is skipped in value but kept in the graph, so second derivatives stay exact.
    """

    @staticmethod
    def forward(ctx, r, solver, apply_hessian):
        ctx.solver = solver
        ctx.apply_hessian = apply_hessian
        ctx.r_norm = float(torch.linalg.norm(r))
        return torch.zeros_like(r)

    @staticmethod
    def backward(ctx, grad):
        g = grad.detach()
        skip = float(torch.linalg.norm(ctx.solver.constraints.project(g))) <= ctx.r_norm
        if skip or ctx.apply_hessian is None or not torch.is_grad_enabled():
            return _ConstrainedSolve.apply(grad, ctx.solver, skip), None, None
        # a backward pass that keeps its graph: y = y* + S(g − H(θ) y*) carries ∂S/∂θ (module docstring)
        y_star = ctx.solver.constrained_inverse(g).to(grad.dtype)
        residual = grad - ctx.apply_hessian(y_star)
        return y_star + _ConstrainedSolve.apply(residual, ctx.solver, True), None, None


def newton_step(
    q_star: torch.Tensor,
    potential: torch.Tensor,
    chi: torch.Tensor,
    hardness: torch.Tensor,
    solver: HardnessSolver,
    apply_hessian=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable charges ``[N]`` (e) and energy (eV) of the module docstring.

    :param q_star: ``[N]`` detached solution (e). :param potential: ``[N]`` Coulomb potential
        of ``q_star`` (eV/e), differentiable in positions, cell and widths. :param chi: ``[N]``
        (eV/e) and :param hardness: ``[N]`` (eV/e²), differentiable. :param solver: the solver of
        ``q_star``, for the adjoint solves of the backward pass. :param apply_hessian: ``y ↦ H y``
        (eV/e), differentiable in what ``H`` depends on (positions, cell, widths, hardness): makes the
        second derivatives of the charges exact; ``None`` treats ``S`` as constant there.
    """
    gradient = chi + hardness * q_star + potential
    r = -solver.constraints.project(gradient)
    delta = _NewtonCorrection.apply(r, solver, apply_hessian)
    charges = q_star + delta
    lagrangian = (chi * q_star).sum() + 0.5 * (hardness * q_star**2).sum() + 0.5 * (q_star * potential).sum()
    energy = lagrangian - 0.5 * (r * delta).sum()
    return charges, energy
