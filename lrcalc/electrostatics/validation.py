"""Checks of user input with clear error messages."""

import math

import torch

METHODS = ("auto", "direct", "ewald", "pme", "p3m")


def _cross(u, v):
    return [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]


def _dot(u, v):
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


def check_system(positions, cell, pbc, sigma, method):
    """Validate and normalise ``(positions, cell, pbc, sigma, method)``.

    Returns ``(cell, pbc)`` with ``pbc`` a tuple of three bools and ``cell`` ``None``
    for non-periodic systems.
    """
    if not isinstance(positions, torch.Tensor):
        raise TypeError("positions must be a torch.Tensor of shape [N, 3] (Å)")
    if positions.dim() != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape [N, 3], got {list(positions.shape)}")
    if not torch.isfinite(positions).all():
        raise ValueError("positions contain NaN or infinite values")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if pbc is None:
        pbc = (False, False, False) if cell is None else (True, True, True)
    if isinstance(pbc, torch.Tensor):
        pbc = pbc.tolist()
    if isinstance(pbc, bool):
        pbc = (pbc, pbc, pbc)
    pbc = tuple(bool(p) for p in pbc)
    if len(pbc) != 3:
        raise ValueError(f"pbc must be three booleans, got {pbc}")
    n_periodic = sum(pbc)
    if n_periodic == 1:
        raise ValueError(
            f"pbc={pbc} (wire geometry) is not supported: use full 3-D periodicity, "
            "a slab with two periodic directions, or no periodicity"
        )
    if n_periodic > 0:
        if cell is None:
            raise ValueError(f"pbc={pbc} needs a cell")
        if not isinstance(cell, torch.Tensor) or cell.shape != (3, 3):
            raise ValueError("cell must be a [3, 3] torch.Tensor with cell vectors as rows (Å)")
        box = cell.detach().cpu().double().tolist()  # 3×3: checked in plain floats, off the autograd path
        if not all(math.isfinite(x) for row in box for x in row):
            raise ValueError("cell contains NaN or infinite values")
        if n_periodic == 3:
            volume = abs(_dot(box[0], _cross(box[1], box[2])))
            scale = math.prod(math.sqrt(_dot(row, row)) for row in box)
        else:
            a, b = [i for i in range(3) if pbc[i]]
            normal = _cross(box[a], box[b])
            volume = math.sqrt(_dot(normal, normal))
            scale = math.sqrt(_dot(box[a], box[a]) * _dot(box[b], box[b]))
        if not volume > 1e-10 * max(scale, 1e-300):
            raise ValueError(f"the periodic cell vectors are degenerate (zero volume/area) for pbc={pbc}")
    else:
        cell = None
    if sigma is not None:
        if not isinstance(sigma, torch.Tensor) or sigma.shape != positions.shape[:1]:
            raise ValueError("sigma must be a tensor of shape [N] (Å) or None")
        if not torch.isfinite(sigma).all() or not (sigma.detach() > 0).all():
            raise ValueError("sigma must be finite and positive (use sigma=None for point charges)")
    return cell, pbc


def check_charges(charges, n_atoms):
    if not isinstance(charges, torch.Tensor):
        raise TypeError("charges must be a torch.Tensor of shape [N] or [N, C] (e)")
    if charges.dim() not in (1, 2) or charges.shape[0] != n_atoms:
        raise ValueError(f"charges must have shape [N] or [N, C] with N={n_atoms}, got {list(charges.shape)}")
    if not torch.isfinite(charges).all():
        raise ValueError("charges contain NaN or infinite values")
