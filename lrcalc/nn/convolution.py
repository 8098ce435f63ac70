"""The edge convolution of an interaction layer as a few dense operations.

For atom i, channel u and tensor-product path p = (l₁ ⊗ l₂ → l₃) with channel-wise ("uvu") weights,

    m_i[u, p, m₃] = Σ_j  w_ij[p, u] · α_p Σ_{m₁ m₂} C^{l₁ l₂ l₃}_{m₁ m₂ m₃} · x_j[u, l₁ m₁] · Y_{l₂ m₂}(r̂_ij)

with C the Wigner 3j symbols and α_p e3nn's path normalisation. e3nn evaluates this path by path
(one slice, one einsum and, in the backward pass, one zero-filled slice gradient per path). Here the
paths are grouped by output order l₃, and per group the whole sum is

    B_e[k, d]   = Σ_s Y_e[s] · A[d, s, k]           (one matmul over edges; A = α·C, fixed; k = (m₃, p))
    T_e[k, u]   = Σ_d B_e[k, d] · x_j[d, u]          (one batched matmul, d = every (l₁, m₁) of a channel)
    m_i        += T_e[k, u] · w_e[p(k), u]           (one product, one index_add)

with the channel index u innermost, so that the weights broadcast over m₃ along contiguous rows.

so a layer costs O(number of orders) operations instead of O(number of paths), and no per-path
slices are made. The result equals e3nn's ``TensorProduct`` followed by a sum over neighbors
(``tests/test_convolution.py`` compares them, values and gradients, for l_max 0–2 with both parity
choices); the module keeps e3nn's layouts of features, weights and outputs, so model files do not
change.

Requires every input block to have the same multiplicity (true for lrcalc's hidden features);
:func:`channelwise_convolution` returns ``None`` otherwise, and the layer falls back to e3nn.
"""

from __future__ import annotations

import torch
from e3nn import o3
from torch import nn


class ChannelwiseConvolution(nn.Module):
    """Σ_j TP(x_j, Y_ij; w_ij) of an e3nn ``uvu`` TensorProduct, gathered and scattered.

    ``wanted``: output types (``o3.Irrep``) to compute; paths to other types are skipped and their
    outputs are zero (a layer whose only reader takes its scalars needs only the 0e paths).
    """

    def __init__(self, tensor_product: o3.TensorProduct, wanted=None):
        super().__init__()
        irreps_in, irreps_sh, irreps_mid = (tensor_product.irreps_in1, tensor_product.irreps_in2,
                                            tensor_product.irreps_out)
        multiplicities = {mul for mul, _ in irreps_in}
        if len(multiplicities) != 1:
            raise ValueError(f"every input block needs the same multiplicity, got {irreps_in}")
        self.channels = channels = multiplicities.pop()
        self.dim_mid = irreps_mid.dim
        # d: every (block, m₁) of one channel; feature column of (u, d) in e3nn's layout [block][u][m]
        d_of_block = torch.tensor([0] + [ir.dim for _, ir in irreps_in]).cumsum(0).tolist()
        self.dim_channel = d_of_block[-1]
        in_index = torch.empty(self.dim_channel, channels, dtype=torch.long)  # [d, u]
        for block, ((mul, ir), offset) in enumerate(zip(irreps_in, irreps_in.slices())):
            columns = torch.arange(offset.start, offset.stop).view(mul, ir.dim)
            in_index[d_of_block[block]:d_of_block[block + 1]] = columns.t()
        self.register_buffer("in_index", in_index.flatten(), persistent=False)
        self.identity_input = bool((in_index.flatten() == torch.arange(irreps_in.dim)).all())

        # one group per output order l₃; group-major, then (u, path, m₃) within a group
        groups: dict[int, list[int]] = {}
        for p, ins in enumerate(tensor_product.instructions):
            if ins.connection_mode != "uvu" or not ins.has_weight:
                raise ValueError("only weighted 'uvu' paths are supported")
            ir_out = irreps_mid[ins.i_out].ir
            if wanted is None or ir_out in wanted:
                groups.setdefault(ir_out.l, []).append(p)
        self.groups = []  # (l₃, paths)
        out_columns, weight_order = [], []
        mid_slices = irreps_mid.slices()
        sh_slices = irreps_sh.slices()
        for l_out, paths in sorted(groups.items()):
            width = 2 * l_out + 1
            coupling = torch.zeros(self.dim_channel, irreps_sh.dim, len(paths) * width, dtype=torch.float64)
            for q, p in enumerate(paths):
                ins = tensor_product.instructions[p]
                l1, l2 = irreps_in[ins.i_in1].ir.l, irreps_sh[ins.i_in2].ir.l
                w3j = o3.wigner_3j(l1, l2, l_out, dtype=torch.float64) * ins.path_weight
                coupling[d_of_block[ins.i_in1]:d_of_block[ins.i_in1 + 1],
                         sh_slices[ins.i_in2], q::len(paths)] = w3j  # k = m₃·P + q
            # B_e = Y_e @ A with A laid out [s, d·k]
            # B_e = Y_e @ A with A laid out [s, k·d]; float64 here, ``model.to(dtype)`` converts it
            self.register_buffer(f"coupling_{l_out}", coupling.permute(1, 2, 0).reshape(irreps_sh.dim, -1),
                                 persistent=False)
            # the weights this group reads, laid out [q, u] like e3nn's [p][u]
            weight_order.append((torch.tensor(paths).view(-1, 1) * channels
                                 + torch.arange(channels).view(1, -1)).flatten())
            self.groups.append((l_out, len(paths)))
            # where (m, q, u) of this group sits in e3nn's mid layout [path block][u][m]
            columns = torch.stack([
                torch.arange(mid_slices[tensor_product.instructions[p].i_out].start,
                             mid_slices[tensor_product.instructions[p].i_out].stop).view(channels, width).t()
                for p in paths
            ], dim=1)  # [m, q, u]
            out_columns.append(columns.flatten())
        out_columns = torch.cat(out_columns) if out_columns else torch.zeros(0, dtype=torch.long)
        #: e3nn weight index of each column of the weights that :meth:`forward` takes
        self.register_buffer("weight_order", torch.cat(weight_order) if weight_order
                             else torch.zeros(0, dtype=torch.long), persistent=False)
        # inverse map: for each mid column, its position in our concatenation (or the zero column)
        mid_from_ours = torch.full((self.dim_mid,), len(out_columns), dtype=torch.long)
        mid_from_ours[out_columns] = torch.arange(len(out_columns))
        self.register_buffer("mid_from_ours", mid_from_ours, persistent=False)
        self.complete = len(out_columns) == self.dim_mid

    def forward(self, features: torch.Tensor, edge_sh: torch.Tensor, weights: torch.Tensor,
                center: torch.Tensor, neighbor: torch.Tensor) -> torch.Tensor:
        """features [N, dim_in], edge_sh [E, S], weights [E, len(weight_order)] (column c holds e3nn's
        weight ``weight_order[c]``), edges (center ← neighbor) → Σ over neighbors [N, dim_mid] in
        e3nn's layout (not yet normalised)."""
        num_nodes, num_edges, channels = features.shape[0], edge_sh.shape[0], self.channels
        x = features if self.identity_input else features[:, self.in_index]
        x = x.reshape(num_nodes, self.dim_channel, channels).index_select(0, neighbor)  # [E, D, U]
        parts, start = [], 0
        for l_out, num_paths in self.groups:
            width = 2 * l_out + 1
            coupling = getattr(self, f"coupling_{l_out}").to(edge_sh.dtype)
            b = (edge_sh @ coupling).view(num_edges, width * num_paths, self.dim_channel)  # [E, K, D]
            t = b * x if self.dim_channel == 1 else torch.bmm(b, x)  # [E, K, U], k = (m₃, q)
            # channels innermost: the weight broadcasts over m₃ with contiguous rows of P·U numbers
            w_group = weights[:, start:start + num_paths * channels].view(num_edges, 1, num_paths, channels)
            start += num_paths * channels
            messages = t.view(num_edges, width, num_paths, channels) * w_group
            parts.append(torch.zeros(num_nodes, width * num_paths * channels, dtype=messages.dtype,
                                     device=messages.device)
                         .index_add_(0, center, messages.reshape(num_edges, width * num_paths * channels)))
        if not self.complete:
            parts.append(features.new_zeros(num_nodes, 1))
        return torch.cat(parts, dim=1)[:, self.mid_from_ours]


def channelwise_convolution(tensor_product: o3.TensorProduct, wanted=None) -> ChannelwiseConvolution | None:
    """The fused convolution for ``tensor_product``, or ``None`` where it does not apply."""
    try:
        return ChannelwiseConvolution(tensor_product, wanted)
    except ValueError:
        return None
