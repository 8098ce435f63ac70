"""A NequIP-style interaction block on e3nn.

For atom i with features h_i, species one-hot z_i and neighbors j within the cutoff,

    m_i  = 1/√⟨n⟩ · Σ_j  R(e(r_ij)) · [ (W₁ h_j) ⊗ Y(r̂_ij) ]          (convolution)
    h_i' = Gate( W₂ m_i + SC(h_i ⊗ z_i) )                              (update)

where Y are spherical harmonics of the edge direction, e(r) the radial embedding, R a radial MLP
that gives one weight per tensor-product path and channel ("uvu" paths), ⟨n⟩ the average number of
neighbors, W₁ and W₂ equivariant linear maps, SC a species-dependent self-connection and Gate the
gated nonlinearity (SiLU/tanh on scalars, sigmoid-gated l > 0 features).
"""

from __future__ import annotations

import math

import torch
from e3nn import nn as e3nn_nn
from e3nn import o3
from torch import nn

from .blockwise import BlockwiseLinear, FastGate, weight_offsets
from .convolution import channelwise_convolution


def _or_none(build, module):
    """``build(module)``, or ``None`` where that module's layout is not supported (e3nn then runs)."""
    try:
        return build(module)
    except ValueError:
        return None


def hidden_irreps(num_features: int, l_max: int, parity: bool) -> o3.Irreps:
    """Hidden features: ``num_features`` channels for every l ≤ l_max.

    With ``parity=True`` both parities of each l are kept (O(3) features including pseudo-tensors);
    with ``parity=False`` only the natural parity (-1)^l (true scalars, vectors, rank-2 tensors).
    Both choices are equivariant under rotations *and* reflections.
    """
    irreps = []
    for l in range(l_max + 1):
        parities = (1, -1) if parity else ((-1) ** l,)
        for p in parities:
            irreps.append((num_features, (l, p)))
    return o3.Irreps(irreps)


class Interaction(nn.Module):
    """One convolution + gated update. Declares ``irreps_in`` and ``irreps_out``."""

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_target: o3.Irreps,
        irreps_sh: o3.Irreps,
        num_species: int,
        num_radial_basis: int,
        radial_mlp_hidden: int,
        radial_mlp_layers: int,
        avg_num_neighbors: float,
    ):
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        irreps_target = o3.Irreps(irreps_target)
        irreps_sh = o3.Irreps(irreps_sh)
        self.inv_sqrt_neighbors = 1.0 / math.sqrt(float(avg_num_neighbors))

        # Tensor-product paths (h_j of type ir_in) ⊗ (Y of type ir_sh) → ir_out, kept when ir_out is
        # a type of the target features. One output block per path ("uvu": channel-wise).
        wanted = {ir for _, ir in irreps_target}
        mid, instructions = [], []
        for i_in, (mul, ir_in) in enumerate(self.irreps_in):
            for i_sh, (_, ir_sh) in enumerate(irreps_sh):
                for ir_out in ir_in * ir_sh:
                    if ir_out in wanted:
                        instructions.append((i_in, i_sh, len(mid), "uvu", True))
                        mid.append((mul, ir_out))
        irreps_mid = o3.Irreps(mid)
        self.linear_in = o3.Linear(self.irreps_in, self.irreps_in)
        self.tensor_product = o3.TensorProduct(
            self.irreps_in,
            irreps_sh,
            irreps_mid,
            instructions,
            shared_weights=False,
            internal_weights=False,
        )
        self.radial_mlp = e3nn_nn.FullyConnectedNet(
            [num_radial_basis] + [radial_mlp_hidden] * radial_mlp_layers + [self.tensor_product.weight_numel],
            torch.nn.functional.silu,
        )

        # The gate: scalars pass through an activation; every l > 0 block is multiplied by a
        # sigmoid of an extra scalar. Only types the convolution can produce are kept.
        reachable = {ir for _, ir in irreps_mid}
        scalars = o3.Irreps([(mul, ir) for mul, ir in irreps_target if ir.l == 0 and ir in reachable])
        gated = o3.Irreps([(mul, ir) for mul, ir in irreps_target if ir.l > 0 and ir in reachable])
        gates = o3.Irreps(f"{gated.num_irreps}x0e") if gated.num_irreps else o3.Irreps("")
        self.gate = e3nn_nn.Gate(
            scalars,
            [torch.nn.functional.silu if ir.p == 1 else torch.tanh for _, ir in scalars],
            gates,
            [torch.sigmoid] * len(gates),
            gated,
        )
        self.linear_out = o3.Linear(irreps_mid.simplify(), self.gate.irreps_in)
        self.self_connection = o3.FullyConnectedTensorProduct(
            self.irreps_in, o3.Irreps(f"{num_species}x0e"), self.gate.irreps_in
        )
        self.irreps_out = self.gate.irreps_out
        self.dim_out = self.irreps_out.dim
        # The convolution as a few dense operations (same numbers as the e3nn tensor product, which
        # stays as the fallback and the reference); and the variant that computes only the paths to
        # scalars, for a last layer whose reader takes only its scalars (see ``scalars_only``).
        self.convolution = channelwise_convolution(self.tensor_product)
        self.scalar_convolution = channelwise_convolution(self.tensor_product, wanted={o3.Irrep("0e")})
        scalar_mask = torch.cat([torch.full((mul * ir.dim,), float(ir == o3.Irrep("0e")))
                                 for mul, ir in self.irreps_out]) if self.irreps_out.dim else torch.zeros(0)
        self.register_buffer("scalar_mask", scalar_mask, persistent=False)
        self.scalars_only = False
        self.scalar_block = self._find_scalar_block()
        self.scalar_paths = self._scalar_paths() if self.scalar_block is not None else None
        # e3nn's linear maps, self-connection and gate with one operation per order l (fewer, larger
        # operations; the same weights): see .blockwise. ``fast = False`` runs e3nn throughout.
        self.fast = True
        self.blockwise_in = _or_none(BlockwiseLinear, self.linear_in)
        self.blockwise_out = _or_none(BlockwiseLinear, self.linear_out)
        self.blockwise_self = _or_none(BlockwiseLinear, self.self_connection)
        self.fast_gate = _or_none(FastGate, self.gate)

    def _find_scalar_block(self):
        """(block of gate.irreps_in, first, last channel) holding the 0e scalars that leave the gate
        as its first output block; ``None`` where the layout is not that simple."""
        if not len(self.irreps_out) or self.irreps_out[0].ir != o3.Irrep("0e"):
            return None
        if self.gate.act_scalars.acts[0] is None:
            return None
        columns = self.gate.sc(torch.arange(self.gate.irreps_in.dim, dtype=torch.float64).unsqueeze(0))[0]
        columns = columns[0, : self.irreps_out[0].mul].long()
        for block, piece in enumerate(self.gate.irreps_in.slices()):
            if piece.start <= columns[0] and columns[-1] < piece.stop:
                first = int(columns[0]) - piece.start
                if torch.equal(columns - columns[0], torch.arange(len(columns))):
                    return block, first, first + len(columns)
        return None

    def radial_weights(self, edge_radial: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """R(e(r_ij))[:, columns]: the radial MLP with e3nn's constant factors (1/√fan-in, the
        activation's second-moment normalisation) folded into its weight matrices, so each hidden
        layer is one matmul and one SiLU over the edges. Same numbers as ``self.radial_mlp``."""
        x, carried = edge_radial, 1.0  # ``carried``: factor of x not yet applied
        layers = list(self.radial_mlp)
        for layer in layers[:-1]:
            x = layer.act.f(x @ (layer.weight * (carried / (layer.h_in * layer.var_in) ** 0.5)))
            carried = layer.var_out ** 0.5 * (1.0 if layer.act._is_id else layer.act.cst)
        last = layers[-1]
        weight = last.weight[:, columns] * (carried / (last.h_in * last.var_in / last.var_out) ** 0.5)
        return x @ weight

    def forward(
        self,
        features: torch.Tensor,
        species_onehot: torch.Tensor,
        edge_index: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_radial: torch.Tensor,
    ) -> torch.Tensor:
        """New features [N, irreps_out.dim]; with ``scalars_only`` only their 0e part (the rest is 0)."""
        center, neighbor = edge_index
        fast = self.fast
        convolution = (self.scalar_convolution if self.scalars_only else self.convolution) if fast else None
        if fast and self.blockwise_in is not None:
            inputs = self.blockwise_in(self.linear_in, features)
        else:
            inputs = self.linear_in(features)
        if convolution is not None:
            weights = self.radial_weights(edge_radial, convolution.weight_order)
            aggregated = convolution(inputs, edge_sh, weights, center, neighbor)
        else:
            weights = self.radial_mlp(edge_radial)
            messages = self.tensor_product(inputs[neighbor], edge_sh, weights)
            aggregated = torch.zeros(
                features.shape[0], messages.shape[1], dtype=messages.dtype, device=messages.device
            ).index_add_(0, center, messages)
        aggregated = aggregated * self.inv_sqrt_neighbors
        if self.scalars_only and self.scalar_block is not None and fast:
            return self._scalar_update(aggregated, features, species_onehot)
        if fast and None not in (self.blockwise_out, self.blockwise_self, self.fast_gate):
            update = (self.blockwise_out(self.linear_out, aggregated)
                      + self.blockwise_self(self.self_connection, features, species_onehot))
            out = self.fast_gate(self.gate, update)
        else:
            out = self.gate(self.linear_out(aggregated) + self.self_connection(features, species_onehot))
        return out * self.scalar_mask if self.scalars_only else out

    def _scalar_paths(self) -> tuple[list, list]:
        """The weight blocks that :meth:`_scalar_update` reads, as plain numbers (no e3nn objects at
        call time, so that ``torch.compile`` can trace it): for ``linear_out``, ``(first, last column of
        aggregated, weight offset, mul_in, mul_out, path weight)`` of every path into the scalar block;
        for the self-connection, ``(first, last column of the features, first, last column of z,
        weight offset, (u, v, w), path weight)``."""
        block = self.scalar_block[0]
        linear_paths = []
        mid_slices = self.linear_out.irreps_in.slices()
        for ins, offset in zip(self.linear_out.instructions, weight_offsets(self.linear_out)[0]):
            if ins.i_out == block:
                piece = mid_slices[ins.i_in]
                linear_paths.append((piece.start, piece.stop, offset, *ins.path_shape, float(ins.path_weight)))
        sc = self.self_connection
        sc_paths = []
        x_slices, z_slices = sc.irreps_in1.slices(), sc.irreps_in2.slices()
        for ins, offset in zip(sc.instructions, weight_offsets(sc)[0]):
            if offset is not None and ins.i_out == block:  # 0e ⊗ 0e → 0e, "uvw"
                if ins.connection_mode != "uvw":
                    raise ValueError("only 'uvw' self-connection paths are supported")
                x, z = x_slices[ins.i_in1], z_slices[ins.i_in2]
                sc_paths.append((x.start, x.stop, z.start, z.stop, offset, tuple(ins.path_shape),
                                 float(ins.path_weight)))
        return linear_paths, sc_paths

    def _scalar_update(self, aggregated, features, species_onehot) -> torch.Tensor:
        """The 0e block of ``gate(linear_out(aggregated) + self_connection(features, z))`` from
        the paths into that block only (the same weights; the other blocks are returned as 0)."""
        _, first, last = self.scalar_block
        linear_paths, sc_paths = self.scalar_paths
        total = 0.0
        weight = self.linear_out.weight
        for start, stop, offset, mul_in, mul_out, path_weight in linear_paths:
            w = weight[offset:offset + mul_in * mul_out].view(mul_in, mul_out)
            total = total + path_weight * (aggregated[:, start:stop] @ w[:, first:last])
        weight = self.self_connection.weight
        for x_start, x_stop, z_start, z_stop, offset, (u, v, w_out), path_weight in sc_paths:
            # Σ_uv w_uvw x_u z_v
            x, z = features[:, x_start:x_stop], species_onehot[:, z_start:z_stop]
            w = weight[offset:offset + u * v * w_out].view(u, v, w_out)[..., first:last]  # [u, v, w]
            products = (x @ w.reshape(u, -1)).view(x.shape[0], v, last - first)
            total = total + path_weight * (products * z.unsqueeze(-1)).sum(1)
        scalars = self.gate.act_scalars.acts[0](total)
        rest = scalars.new_zeros(scalars.shape[0], self.dim_out - scalars.shape[1])
        return torch.cat([scalars, rest], dim=1)
