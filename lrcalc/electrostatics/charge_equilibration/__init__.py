r"""Charge equilibration (Qeq) with a total-charge constraint and implicit gradients.

The charges :math:`q` (e) minimise

.. math::

    L(q) = \sum_i \big(\chi_i q_i + \tfrac12 J_i q_i^2\big) + E_{\mathrm{coul}}(q)
    \quad\text{subject to}\quad \sum_i q_i = Q,

with electronegativities :math:`\chi` (eV/e), hardnesses :math:`J` (eV/e²), the total charge
:math:`Q` (e) and the Gaussian-charge Coulomb energy :math:`E_{\mathrm{coul}} = \tfrac12
q^{\mathsf T} k_e A q` (eV) of :mod:`..coulomb`. With :math:`H = k_e A + \operatorname{diag}(J)`
(eV/e²) the optimality conditions are :math:`H q + \chi = \mu \mathbf 1`,
:math:`\mathbf 1^{\mathsf T} q = Q` (:math:`\mu` in eV/e).

One module per step:

- :mod:`.api`: :func:`qeq`, the entry point, and its result :class:`QeqInfo`;
- :mod:`.hardness`: what every solver of :math:`H` provides;
- :mod:`.dense`: the direct (KKT) solver, for small N;
- :mod:`.conjugate_gradient`: the matrix-free solver, with :mod:`.preconditioning`;
- :mod:`.implicit`: the differentiable Newton step (implicit gradients);
- :mod:`.warm_start`: :class:`QeqWarmStart`, what one MD step leaves for the next, composed of
  :mod:`.parameter_cache`, :mod:`.history` and :mod:`.coarse_space`.
"""

from .api import QeqInfo, qeq
from .conjugate_gradient import QeqConvergenceError
from .warm_start import QeqWarmStart, SolveStats

__all__ = ["QeqConvergenceError", "QeqInfo", "QeqWarmStart", "SolveStats", "qeq"]
