"""Coulomb parameters tuned once per cell and kept for a run (MD at fixed cell).

The parameters of :func:`~lrcalc.electrostatics.tune` (splitting width in Å, cutoffs in Å and
1/Å, mesh spacing in Å, slab gap in Å) are valid for any positions in the same cell: keeping them
saves the tuning and keeps the energy surface (eV) of a run free of the small steps that retuning
at every step would put in it.
"""

from ..tuning import CoulombParameters, tune


class CoulombParameterCache:
    """The parameters of the last system seen, retuned when the system changes.

    :param entries: ``{key: CoulombParameters}``, at most one entry (the key is described in
        :meth:`__call__`).
    """

    def __init__(self, entries: dict | None = None):
        self.entries = {} if entries is None else entries

    def __call__(self, positions, cell, pbc, sigma, method, accuracy) -> CoulombParameters:
        """The parameters tuned at the first call, reused while the cell (Å), periodicity, method,
        accuracy, number of atoms and range of widths (Å) stay the same."""
        key = (
            None if cell is None else tuple(cell.detach().reshape(-1).tolist()), pbc, method, accuracy,
            positions.shape[0],
            None if sigma is None else (float(sigma.detach().min()), float(sigma.detach().max())),
        )
        if key not in self.entries:
            self.entries.clear()
            self.entries[key] = tune(positions, cell, pbc, sigma, method, accuracy)
        return self.entries[key]
