"""The optimizer and the learning-rate schedule of a training run (the ``training`` section's keys).

======================  =============================================================================
``optimizer``           ``adam`` or ``amsgrad`` (:class:`torch.optim.Adam`), with ``weight_decay``
``gradient_clip_norm``  the gradient's norm is clipped to it before each step (``null``: never)
``lr_schedule``         ``plateau``: × ``lr_plateau_factor`` after ``lr_plateau_patience`` epochs
                        without a lower validation loss; ``cosine``: cosine annealing over
                        ``max_epochs``; ``none``: constant. Never below ``lr_min``.
======================  =============================================================================

The schedule steps once per epoch, after validation.
"""

from __future__ import annotations

import torch


def make_optimizer(parameters, training: dict) -> torch.optim.Optimizer:
    """Adam or AMSGrad over ``parameters`` with the ``training`` section's rate and weight decay."""
    return torch.optim.Adam(
        parameters,
        lr=training["learning_rate"],
        weight_decay=training["weight_decay"],
        amsgrad=training["optimizer"] == "amsgrad",
    )


def make_scheduler(optimizer: torch.optim.Optimizer, training: dict):
    """The learning-rate schedule of ``training["lr_schedule"]``, or ``None`` for a constant rate."""
    if training["lr_schedule"] == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=training["lr_plateau_factor"],
            patience=training["lr_plateau_patience"],
            min_lr=training["lr_min"],
        )
    if training["lr_schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=training["max_epochs"], eta_min=training["lr_min"]
        )
    return None


def clipped_step(optimizer: torch.optim.Optimizer, parameters, clip_norm: float | None) -> None:
    """One optimizer step, the gradient's norm first clipped to ``clip_norm`` (``None``: unclipped)."""
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
    optimizer.step()


def step_scheduler(scheduler, val_loss: float) -> None:
    """The end-of-epoch step (the plateau schedule follows the validation loss)."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    elif scheduler is not None:
        scheduler.step()


def scheduler_state(scheduler) -> dict:
    return scheduler.state_dict() if scheduler is not None else {}


def load_scheduler_state(scheduler, state: dict, max_epochs: int) -> None:
    """Restore a schedule; a resumed run may have a larger ``max_epochs``, which the cosine
    schedule then anneals over."""
    if scheduler is None:
        return
    scheduler.load_state_dict(state)
    if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
        scheduler.T_max = max_epochs
