r"""The coarse space: search directions of earlier solves, recycled to precondition later ones.

The (normalised) search directions :math:`p` (e) of the recent CG solves, charge and adjoint
solves alike (one matrix :math:`H` serves both), are kept as the columns of :math:`W` with their
products :math:`HW` (eV/e) and the small matrix :math:`E = W^{\mathsf T} H W` (eV, float64),
up to :func:`coarse_space_size` columns, newest kept. They span the smooth, slowly converging
modes, which the two-level preconditioner (:mod:`.preconditioning`) then inverts directly. Any
coarse space gives the same result to the solver tolerance; a close one saves iterations.

Once the space is full the oldest columns go, products of the oldest geometries with them. On the
2254-atom BTA/Cu slab in Langevin MD with ``bta_cu.pt`` (1 thread, 120 steps) the iterations per
step for charges + adjoint rose from 2.0 + 3.8 (steps 40–59) to 4.3 + 8.6 when the 512 columns filled
up, then settled at 3.1–3.2 + 5.0–5.5. Compressing a full space to its 256 Ritz vectors of smallest
Ritz value instead (E y = λ WᵀW y) was measured and rejected: 10–14 + 18–22 iterations, since it
keeps directions whose products belong to geometries long past.
"""

import torch

#: Most columns kept in the coarse space.
COARSE_SPACE_MAX = 512
#: Most entries (atoms × columns) of one stored coarse space (W and HW each, float32: 64 MB).
COARSE_SPACE_ENTRIES = 2**24


def coarse_space_size(n_atoms: int) -> int:
    """Columns kept in a coarse space of an ``n_atoms`` system (memory-bounded)."""
    # well below N: with nearly as many columns as dimensions the directions are dependent and
    # the coarse inverse amplifies rounding errors
    return max(1, min(COARSE_SPACE_MAX, COARSE_SPACE_ENTRIES // max(n_atoms, 1), n_atoms // 4))


class CoarseSpace:
    """The stored ``(W, HW, E)`` of one system size, or ``None``.

    :param matrices: ``(W [N, k], HW [N, k], E [k, k])`` to start from, or ``None``.
    """

    def __init__(self, matrices: tuple | None = None):
        self.matrices = matrices

    def extend(self, directions: list):
        """Append the ``(p, Hp)`` pairs of a solve, newest kept. ``E`` is updated block by block,
        so each solve adds O(N·k·k_new) work, not O(N·k²); a space of another size or dtype is
        replaced."""
        if not directions:
            return
        norms = torch.stack([torch.linalg.norm(p) for p, _ in directions]).clamp_min(1e-30)
        w_new, hw_new = (torch.stack(t, dim=1) / norms for t in zip(*directions))
        old = self.matrices
        if old is not None and old[0].shape[0] == w_new.shape[0] and old[0].dtype == w_new.dtype:
            w_old, hw_old, e_old = old
            e = torch.cat([
                torch.cat([e_old, (w_old.T @ hw_new).double()], dim=1),
                torch.cat([(w_new.T @ hw_old).double(), (w_new.T @ hw_new).double()], dim=1),
            ])
            w_new, hw_new = torch.cat([w_old, w_new], dim=1), torch.cat([hw_old, hw_new], dim=1)
        else:
            e = (w_new.T @ hw_new).double()
        keep = coarse_space_size(w_new.shape[0])
        self.matrices = (w_new[:, -keep:], hw_new[:, -keep:], e[-keep:, -keep:])

    def get(self, n: int) -> tuple | None:
        """The stored ``(W, HW, E)`` for a system of ``n`` atoms, or ``None``."""
        matrices = self.matrices
        return matrices if matrices is not None and matrices[0].shape[0] == n else None
