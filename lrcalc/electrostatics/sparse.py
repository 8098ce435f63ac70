"""Compressed-sparse-row (CSR) matrices for the products an iterative solve repeats.

Applying a fixed sparse map many times (the pair sum and the mesh spreading/interpolation in every
conjugate-gradient iteration) is 2–4× faster as one CSR matrix-vector product than as
gather/scatter (``index_add_``) calls; building the matrix costs about one such product per
hundred nonzeros' sort, once per geometry. Entries repeated at one position are summed.
"""

import warnings

import torch


def csr_matrix(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The ``shape`` matrix with ``values`` at ``(rows, cols)`` (repeats add up), as CSR."""
    order = torch.argsort(rows, stable=True)
    counts = torch.bincount(rows, minlength=shape[0])
    crow = torch.zeros(shape[0] + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.cumsum(counts, 0)
    return _csr(crow, cols[order], values[order], shape)


def csr_regular(cols: torch.Tensor, values: torch.Tensor, n_cols: int) -> torch.Tensor:
    """CSR matrix whose row ``a`` holds ``values[a]`` at columns ``cols[a]`` (both ``[rows, k]``)."""
    n_rows, k = cols.shape
    crow = torch.arange(0, n_rows * k + 1, k, device=cols.device)
    return _csr(crow, cols.reshape(-1), values.reshape(-1), (n_rows, n_cols))


def _csr(crow, col, values, shape):
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, shape)
