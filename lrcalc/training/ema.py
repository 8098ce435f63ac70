"""Exponential moving average (EMA) of model weights.

After each optimizer step the shadow weights follow θ̄ ← d·θ̄ + (1 − d)·θ with
d = min(decay, (1 + n)/(10 + n)) after n updates, so that early, poor weights are forgotten fast.
Validation, test metrics and the exported model use the shadow weights.
"""

from __future__ import annotations

import copy

import torch


class ExponentialMovingAverage:
    """A shadow copy of ``model`` whose parameters average the model's over optimizer steps."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.num_updates = 0
        self.shadow = copy.deepcopy(model)
        for parameter in self.shadow.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        self.num_updates += 1
        for shadow, parameter in zip(self.shadow.parameters(), model.parameters()):
            if decay == 0.0:
                shadow.copy_(parameter)
            else:
                shadow.lerp_(parameter.detach(), 1.0 - decay)

    def state_dict(self) -> dict:
        return {"shadow": self.shadow.state_dict(), "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        self.shadow.load_state_dict(state["shadow"])
        self.num_updates = int(state["num_updates"])
