"""e3nn's equivariant linear maps and gate, evaluated with one matmul per rotation order l.

An ``o3.Linear`` (and a self-connection ``FullyConnectedTensorProduct`` with the species one-hot
z_i, which is a linear map whose weights depend on the species) mixes channels within each irrep
type:

    y_i[o, w, m] = Σ_{paths b → o} α_p Σ_u W_p[u, (v,) w] · x_i[b, u, m]  (· z_i[v])

e3nn evaluates it path by path, a handful of small operations each. For small structures (an MD
step of 46 atoms, a training batch of four) those operations, not their arithmetic, are the cost.
Here every block of one order l is handled at once: the inputs of order l as one matrix
[N·(2l+1), K_in], the weights of order l as one (block-sparse) matrix [K_in, K_out] assembled from
the module's own parameters by an index map, one matmul, and one permutation back to e3nn's layout.
The zeros between blocks of different parity cost arithmetic on N rows, not operations.

The modules keep their parameters in the e3nn modules they were built from (model files do not
change); ``tests/test_convolution.py`` compares them with e3nn, values and gradients.
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from torch import nn


def weight_offsets(module: nn.Module) -> tuple[list, int]:
    """Where each instruction's weights start in ``module.weight`` (an ``o3.Linear`` or an e3nn tensor
    product; ``None`` for an instruction without weights), and the total number of weights."""
    offsets, offset = [], 0
    for ins in module.instructions:
        if not getattr(ins, "has_weight", True):
            offsets.append(None)
            continue
        offsets.append(offset)
        offset += math.prod(ins.path_shape)
    return offsets, offset


class BlockwiseLinear(nn.Module):
    """``module(x)`` (an ``o3.Linear``) or ``module(x, z)`` (an "uvw" ``FullyConnectedTensorProduct``
    of x with scalars z, e.g. the species one-hot) with one matmul per order l.

    The e3nn module stays the owner of the weights; this object holds only index maps and reads
    ``module.weight`` at every call, so it is passed the module each time (no second reference).
    """

    def __init__(self, module: nn.Module):
        super().__init__()
        tensor_product = isinstance(module, o3.TensorProduct)
        irreps_in = module.irreps_in1 if tensor_product else module.irreps_in
        irreps_out = module.irreps_out
        if tensor_product:
            irreps_z = module.irreps_in2
            if any(ir != o3.Irrep("0e") for _, ir in irreps_z) or len(irreps_z) != 1:
                raise ValueError("the second input must be one block of 0e scalars")
            self.num_z = irreps_z[0].mul
        else:
            if getattr(module, "bias", torch.zeros(0)).numel():
                raise ValueError("biases are not supported")
            self.num_z = 0
        num_z = max(self.num_z, 1)
        in_slices, out_slices = irreps_in.slices(), irreps_out.slices()
        orders = sorted({ir.l for _, ir in irreps_out})
        offsets, self.num_weights = weight_offsets(module)
        if None in offsets:
            raise ValueError("paths without weights are not supported")
        self.orders = []
        out_index = []
        for l in orders:
            dim = 2 * l + 1
            in_blocks = [b for b, (_, ir) in enumerate(irreps_in) if ir.l == l]
            out_blocks = [b for b, (_, ir) in enumerate(irreps_out) if ir.l == l]
            in_start = {b: sum(irreps_in[c].mul for c in in_blocks[:k]) for k, b in enumerate(in_blocks)}
            out_start = {b: sum(irreps_out[c].mul for c in out_blocks[:k]) for k, b in enumerate(out_blocks)}
            k_in = sum(irreps_in[b].mul for b in in_blocks)
            k_out = sum(irreps_out[b].mul for b in out_blocks)
            # weight index (or the zero slot num_weights) and factor of entry [k_in, v, k_out]
            index = torch.full((k_in, num_z, k_out), self.num_weights, dtype=torch.long)
            scale = torch.zeros(k_in, num_z, k_out, dtype=torch.float64)
            for ins, start in zip(module.instructions, offsets):
                i_in = ins.i_in1 if tensor_product else ins.i_in
                if irreps_out[ins.i_out].ir.l != l:
                    continue
                mul_in, mul_out = irreps_in[i_in].mul, irreps_out[ins.i_out].mul
                factor = float(ins.path_weight)
                if tensor_product:
                    if ins.connection_mode != "uvw":
                        raise ValueError("only 'uvw' paths are supported")
                    coupling = o3.wigner_3j(l, 0, l, dtype=torch.float64)[:, 0, :]
                    if not torch.allclose(coupling, coupling[0, 0] * torch.eye(dim, dtype=torch.float64)):
                        raise ValueError("unexpected coupling")
                    factor *= float(coupling[0, 0])
                    shape = (mul_in, num_z, mul_out)
                else:
                    shape = (mul_in, 1, mul_out)
                entries = start + torch.arange(mul_in * num_z * mul_out).view(shape)
                rows = slice(in_start[i_in], in_start[i_in] + mul_in)
                columns = slice(out_start[ins.i_out], out_start[ins.i_out] + mul_out)
                if (index[rows, :, columns] != self.num_weights).any():
                    raise ValueError("two paths share a weight block")
                index[rows, :, columns] = entries
                scale[rows, :, columns] = factor
            # input columns ordered [m, k] (k: block, channel) and output columns likewise
            columns_in = torch.cat([torch.arange(in_slices[b].start, in_slices[b].stop).view(irreps_in[b].mul, dim)
                                    for b in in_blocks]) if in_blocks else torch.zeros(0, dim, dtype=torch.long)
            columns_out = torch.cat([torch.arange(out_slices[b].start, out_slices[b].stop).view(irreps_out[b].mul, dim)
                                     for b in out_blocks])
            self.register_buffer(f"in_columns_{l}", columns_in.t().flatten(), persistent=False)
            self.register_buffer(f"weight_index_{l}", index.flatten(), persistent=False)
            self.register_buffer(f"weight_scale_{l}", scale.flatten(), persistent=False)
            self.orders.append((l, k_in, k_out))
            out_index.append(columns_out.t().flatten())
        ours = torch.cat(out_index)
        inverse = torch.empty_like(ours)
        inverse[ours] = torch.arange(len(ours))
        self.register_buffer("out_order", inverse, persistent=False)

    def forward(self, module: nn.Module, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        num = x.shape[0]
        weight = torch.cat([module.weight, module.weight.new_zeros(1)])
        parts = []
        for l, k_in, k_out in self.orders:
            dim = 2 * l + 1
            if k_in == 0:
                parts.append(x.new_zeros(num, dim * k_out))
                continue
            matrix = weight[getattr(self, f"weight_index_{l}")] * getattr(self, f"weight_scale_{l}").to(x.dtype)
            inputs = x[:, getattr(self, f"in_columns_{l}")].view(num * dim, k_in)
            if self.num_z:
                y = (inputs @ matrix.view(k_in, self.num_z * k_out)).view(num, dim, self.num_z, k_out)
                y = (y * z.view(num, 1, self.num_z, 1)).sum(2)
            else:
                y = inputs @ matrix.view(k_in, k_out)
            parts.append(y.reshape(num, dim * k_out))
        return torch.cat(parts, dim=1)[:, self.out_order] if len(parts) > 1 else parts[0][:, self.out_order]


class FastGate(nn.Module):
    """e3nn's ``Gate`` (scalars through their activations, every l > 0 block times an activated gate
    scalar) with one activation per parity and one product for all gated blocks."""

    def __init__(self, gate: nn.Module):
        super().__init__()
        probe = torch.arange(gate.irreps_in.dim, dtype=torch.float64).unsqueeze(0)
        scalars, gates, gated = (part[0].long() for part in gate.sc(probe))
        self.register_buffer("scalar_columns", scalars, persistent=False)
        self.register_buffer("gate_columns", gates, persistent=False)
        self.register_buffer("gated_columns", gated, persistent=False)
        # scalar blocks in order, each with its (normalised) activation
        self.scalar_blocks = [(mul, ir.dim) for mul, ir in gate.irreps_scalars]
        self.gated_dims = [(mul, ir.dim) for mul, ir in gate.irreps_gated]
        # column j of the gated features is multiplied by gate gate_of_column[j]
        repeats = [dim for mul, dim in self.gated_dims for _ in range(mul)]
        self.register_buffer("gate_of_column", torch.repeat_interleave(
            torch.arange(len(repeats)), torch.tensor(repeats, dtype=torch.long)) if repeats
            else torch.zeros(0, dtype=torch.long), persistent=False)
        if any(act is None for act in gate.act_scalars.acts) or any(a is None for a in gate.act_gates.acts):
            raise ValueError("every scalar and gate needs an activation")
        if len(gate.act_gates.acts) != (1 if self.gated_dims else 0):
            raise ValueError("one block of gates expected")

    def forward(self, gate: nn.Module, x: torch.Tensor) -> torch.Tensor:
        num = x.shape[0]
        scalars = x[:, self.scalar_columns]
        parts, start = [], 0
        for (mul, _), act in zip(self.scalar_blocks, gate.act_scalars.acts):
            parts.append(act(scalars[:, start:start + mul]))
            start += mul
        if self.gated_dims:
            gates = gate.act_gates.acts[0](x[:, self.gate_columns])
            parts.append(x[:, self.gated_columns] * gates[:, self.gate_of_column])
        return torch.cat(parts, dim=1)
