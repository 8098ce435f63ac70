r"""Starting points of the next solves, extrapolated from the solutions of the last MD steps.

The charges :math:`q_n` (e) and adjoint solutions (e) of the last :data:`HISTORY` steps are kept
with their positions :math:`x_n` (Å). The next solve, at positions :math:`x`, starts from

.. math::

    q_n + \sum_j a_j\,(q_{n-j} - q_{n-j-1}), \qquad
    a = \arg\min_a \Big| x - x_n - \sum_j a_j\,(x_{n-j} - x_{n-j-1}) \Big|,

the combination of the stored solutions that the same combination of the stored positions fits
to the new positions (coefficients clamped to ±3). On a smooth MD trajectory this is a polynomial
extrapolation; for uncorrelated moves the fit gives :math:`a \approx 0`, i.e. the last solution.
"""

import torch

#: Earlier solutions kept for the extrapolated starting point.
HISTORY = 3

#: Largest magnitude of an extrapolation coefficient.
MAX_COEFFICIENT = 3.0


class SolutionHistory:
    """The last :data:`HISTORY` steps, oldest first, each a dict with ``"positions"`` ``[N, 3]`` (Å),
    ``"charges"`` ``[N]`` (e) and, once the backward pass of the step ran, ``"adjoint"`` ``[N]``.

    :param steps: the list to keep them in. :param extrapolate: fit the starting points as in the
        module docstring; ``False``: start from the last solution.
    """

    def __init__(self, steps: list | None = None, extrapolate: bool = True):
        self.steps = [] if steps is None else steps
        self.extrapolate = extrapolate

    @property
    def charges(self) -> torch.Tensor | None:
        """``[N]`` charges (e) of the last step."""
        return self.steps[-1]["charges"] if self.steps else None

    @property
    def adjoint(self) -> torch.Tensor | None:
        """``[N]`` last adjoint solution of the last step, if its backward pass ran."""
        return self.steps[-1].get("adjoint") if self.steps else None

    def predict(self, key: str, positions: torch.Tensor, steps: list | None = None) -> torch.Tensor | None:
        """Extrapolated ``key`` (``"charges"`` or ``"adjoint"``) at ``positions`` from ``steps``
        (default: all stored), or ``None`` when nothing matching is stored."""
        steps = self.steps if steps is None else steps
        if not self.extrapolate:
            steps = steps[-1:]
        usable = []
        for step in reversed(steps):  # newest first, stop at the first gap
            if key not in step or step["positions"].shape != positions.shape:
                break
            usable.append(step)
        if not usable:
            return None
        values = [step[key] for step in usable]
        if len(usable) == 1:
            return values[0]
        x = [step["positions"] for step in usable]
        moves = torch.stack([(x[j] - x[j + 1]).reshape(-1) for j in range(len(x) - 1)], dim=1)
        target = (positions.detach().to(moves.dtype) - x[0]).reshape(-1, 1)
        coefficients = torch.linalg.lstsq(moves, target).solution.squeeze(-1)
        if not torch.isfinite(coefficients).all():
            return values[0]
        coefficients = coefficients.clamp(-MAX_COEFFICIENT, MAX_COEFFICIENT)
        prediction = values[0]
        for j, a in enumerate(coefficients.tolist()):
            prediction = prediction + a * (values[j] - values[j + 1])
        return prediction

    def adjoint_start(self) -> torch.Tensor | None:
        """Starting point of an adjoint solve of the last step: the earlier steps' adjoints
        extrapolated to its positions, else an adjoint of the same step (an earlier backward pass)."""
        latest = self.steps[-1]
        start = self.predict("adjoint", latest["positions"], self.steps[:-1])
        return latest.get("adjoint") if start is None else start

    def record(self, positions: torch.Tensor, charges: torch.Tensor):
        """Start the entry of a new step with its positions and charges."""
        self.steps.append({"positions": positions.detach().clone(), "charges": charges.detach()})
        del self.steps[:-HISTORY]

    def record_adjoint(self, adjoint: torch.Tensor):
        """Store the adjoint solution of the last step (replacing an earlier one of the same step)."""
        self.steps[-1]["adjoint"] = adjoint.detach()
