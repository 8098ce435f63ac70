"""Exceptions raised by lrcalc for bad input.

They derive from ``ValueError`` so that callers who catch the standard exception keep working.
"""


class InputError(ValueError):
    """An ``ase.Atoms`` (or a batch of them) that a model cannot evaluate."""


class ModelFileError(ValueError):
    """A model file that is missing, corrupt, truncated, foreign, unsafe or from a newer lrcalc."""


class ConfigError(ValueError):
    """A model config with an unknown key or an invalid value."""
