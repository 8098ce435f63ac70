"""Cell volume as a triple product.

:math:`V = |\\mathbf a\\cdot(\\mathbf b\\times\\mathbf c)|` (Å³) for the rows of a ``[3, 3]`` cell:
the same number as ``|det(cell)|``, with a backward pass of a few products instead of
``linalg.det``'s LU factorisation and inverse (measured: 78 µs per backward at 1 thread, three of them
per step of a Qeq model on a slab, where it mattered next to the rest of a 46-atom step).
"""

import torch


def cell_volume(cell: torch.Tensor) -> torch.Tensor:
    """Volume (Å³, scalar tensor, differentiable) of the cell whose rows are the cell vectors (Å)."""
    return torch.abs(torch.dot(cell[0], torch.linalg.cross(cell[1], cell[2])))
