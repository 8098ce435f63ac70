"""Model files of format 1 (lrcalc before the model of stages): their config keys and state-dict
layout, converted to today's on load. Nothing is recomputed: the same weights under new names.

Format 1 had three classes (short range, Qeq, LOREM) with their layers at the top level; today they
sit in the stages ``local``, ``long_range``, ``coulomb_term`` and ``head`` (:mod:`lrcalc.nn.model`).
"""

from __future__ import annotations

# old prefix → new prefix, by long_range method; the first match wins
_COMMON = [("environment.", "local.environment."), ("embedding.", "local.embedding."),
           ("readout.", "head.readout."), ("energy_scale", "head.energy_scale"),
           ("energy_shift", "head.energy_shift")]
_PREFIXES = {
    "none": _COMMON + [("layers.", "local.layers.")],
    "lorem": _COMMON + [("layers.", "local.layers."), ("lr_steps.", "long_range.steps."),
                        ("charges.", "coulomb_term.")],
    "qeq": _COMMON + [("charge_layers.", "local.layers."), ("energy_layers.", "long_range.layers."),
                      ("electronegativity_shift", "long_range.electronegativity_shift"),
                      ("electronegativity.", "long_range.electronegativity."),
                      ("raw_hardness", "long_range.raw_hardness"), ("raw_sigma", "long_range.raw_sigma"),
                      ("charge_embedding.", "long_range.charge_embedding."),
                      ("feedback.", "long_range.feedback.")],
}
_RENAMED_KEYS = {"qeq_method": "coulomb_method", "qeq_accuracy": "coulomb_accuracy",
                 "lorem_method": "coulomb_method", "lorem_accuracy": "coulomb_accuracy"}


def convert_config(config: dict) -> dict:
    """Format-1 config keys → today's (``qeq_*``/``lorem_*`` Coulomb settings → ``coulomb_*``)."""
    return {_RENAMED_KEYS.get(key, key): value for key, value in config.items()}


def convert_state_dict(long_range: str, state_dict: dict) -> dict:
    """Format-1 weights under today's names; a key that matches no prefix is kept (and will be
    reported by ``load_state_dict`` as unexpected)."""
    converted = {}
    for key, value in state_dict.items():
        for old, new in _PREFIXES.get(long_range, _PREFIXES["none"]):
            if key.startswith(old):
                key = new + key[len(old):]
                break
        converted[key] = value
    return converted
