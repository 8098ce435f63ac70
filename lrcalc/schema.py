"""Declarative config schemas: each setting's type, default, allowed range and meaning, in one place.

A :class:`Schema` is a list of :class:`Setting`; from it come the checks of a config (with errors
that name the key and say what is allowed), the completed config with defaults, and the
documentation tables (README, ``lrcalc info``). The model config (:mod:`lrcalc.config`) is one.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import ConfigError

REQUIRED = object()
"""The default of a setting that has none: the config must give it."""


@dataclass(frozen=True)
class Setting:
    """One config key.

    Attributes:
        name: the key.
        kind: ``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"list"``.
        default: the value when the key is absent (:data:`REQUIRED`: none); ``defaults`` overrides
            it per variant (e.g. per ``long_range`` method).
        doc: what it means, with its unit.
        minimum, maximum: inclusive bounds of a number; ``positive``: a number > 0.
        choices: the allowed values of a string.
        variants: the variants (``long_range`` methods) it applies to; empty: all.
        aliases: older names accepted for it (model files and configs written before the rename).
        nullable: ``None`` (YAML ``null``) is allowed too.
        check: an extra check ``check(value) -> str | None`` returning what is wrong (``kind``
            ``"any"`` leaves every check to it).
        allowed_words: how the allowed values are described, where the kind and bounds do not say.
    """

    name: str
    kind: str
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    choices: tuple = ()
    variants: tuple = ()
    defaults: dict = field(default_factory=dict)
    aliases: tuple = ()
    nullable: bool = False
    check: Callable[[Any], str | None] | None = None
    allowed_words: str | None = None

    def applies_to(self, variant: str | None) -> bool:
        return not self.variants or variant in self.variants

    def default_for(self, variant: str | None):
        return self.defaults.get(variant, self.default)

    def allowed(self) -> str:
        """The allowed values, in words."""
        words = self._allowed()
        return words + " or null" if self.nullable else words

    def _allowed(self) -> str:
        if self.allowed_words:
            return self.allowed_words
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind == "bool":
            return "true or false"
        words = {"int": "an integer", "float": "a number", "str": "a non-empty string",
                 "list": "a non-empty list", "any": "a value"}[self.kind]
        if self.positive:
            words = "a positive " + words.split(" ", 1)[1]
        if self.minimum is not None and self.maximum is not None:
            words += f" in [{self.minimum:g}, {self.maximum:g}]"
        elif self.minimum is not None:
            words += f" ≥ {self.minimum:g}"
        return words

    def validate(self, value, given_as: str | None = None, label_format: str = "config[{!r}]") -> Any:
        """``value`` converted to the setting's kind; raises ConfigError naming the key."""
        name = self.name if given_as in (None, self.name) else f"{given_as} (now {self.name})"
        label = label_format.format(name)
        wrong = ConfigError(f"{label} must be {self.allowed()}, got {value!r}")
        if value is None and self.nullable:
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise wrong
        elif self.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise wrong
            if self.kind == "int" and not float(value).is_integer():
                raise wrong
            if not math.isfinite(value):
                raise wrong
            if self.positive and not value > 0:
                raise wrong
            if self.minimum is not None and value < self.minimum:
                raise wrong
            if self.maximum is not None and value > self.maximum:
                raise wrong
            value = int(value) if self.kind == "int" else float(value)
        elif self.kind == "str":
            if not isinstance(value, str) or not value or (self.choices and value not in self.choices):
                raise wrong
        elif self.kind == "list":
            if not isinstance(value, (list, tuple)) or not value:
                raise wrong
            value = list(value)
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ConfigError(f"{label} must be {self.allowed()}: {problem}, got {value!r}")
        return value


class Schema:
    """An ordered set of settings, one of them optionally selecting the variant (``long_range``)."""

    def __init__(self, title: str, settings: list[Setting], variant_key: str | None = None,
                 label_format: str = "config[{!r}]"):
        """``title`` names the config in messages ("model config"); ``label_format`` turns a key into
        the label errors use (``"config['cutoff']"``, ``"training.learning_rate"``)."""
        self.title = title
        self.label_format = label_format
        self.settings = {s.name: s for s in settings}
        self.variant_key = variant_key
        self.alias_of = {alias: s.name for s in settings for alias in s.aliases}

    def __iter__(self):
        return iter(self.settings.values())

    def resolve(self, config: dict) -> dict:
        """A new dict with every key that applies (defaults filled in), checked.

        Raises:
            ConfigError: a missing required key, an unknown key, a key of another variant, or a value
                out of its range; the message names the key.
        """
        what = self.title
        if not isinstance(config, dict):
            raise ConfigError(f"a {what} must be a mapping of keys, got {type(config).__name__}")
        variant = None
        if self.variant_key is not None:
            variant = self.settings[self.variant_key].validate(
                config.get(self.variant_key, self.settings[self.variant_key].default),
                label_format=self.label_format)
        given: dict[str, tuple[str, Any]] = {}  # canonical name → (name as given, value)
        unknown, misplaced = [], []
        for key, value in config.items():
            name = self.alias_of.get(key, key)
            setting = self.settings.get(name)
            if setting is None:
                unknown.append(key)
            elif not setting.applies_to(variant) or (key != name and not _alias_applies(setting, key, variant)):
                misplaced.append(key)
            elif name in given:
                raise ConfigError(f"{what}: {given[name][0]!r} and {key!r} name the same setting {name!r}")
            else:
                given[name] = (key, value)
        missing = [s.name for s in self if s.applies_to(variant) and s.default is REQUIRED
                   and given.get(s.name, (None, None))[1] is None]
        if missing:
            raise ConfigError(f"{what} lacks required key(s): {', '.join(missing)}")
        if unknown:
            known = ", ".join(sorted(self.settings))
            raise ConfigError(f"unknown {what} key(s): {', '.join(sorted(unknown))} (known keys: {known})")
        if misplaced:
            raise ConfigError(
                f"{what} key(s) {', '.join(sorted(misplaced))} do not apply to {self.variant_key}={variant!r}")
        resolved = {}
        for setting in self:
            if not setting.applies_to(variant):
                continue
            if setting.name in given:
                key, value = given[setting.name]
                resolved[setting.name] = setting.validate(copy.deepcopy(value), given_as=key,
                                                          label_format=self.label_format)
            else:
                resolved[setting.name] = copy.deepcopy(setting.default_for(variant))
        return resolved

    def table(self, variant: str | None = None) -> str:
        # the README embeds this table between <!-- NAME table --> markers; a test keeps them equal
        """A Markdown table of the settings (of one variant, or all), for the README and ``lrcalc info``."""
        rows = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
        for s in self:
            if variant is not None and not s.applies_to(variant):
                continue
            if s.default is REQUIRED:
                default = "required"
            elif s.defaults:
                default = ", ".join(f"{v}: `{json.dumps(s.defaults.get(v, s.default))}`"
                                    for v in s.variants or s.defaults)
            else:
                default = f"`{json.dumps(s.default)}`"
            scope = f" ({', '.join(s.variants)} only)" if s.variants and variant is None else ""
            alias = f" Formerly {', '.join(f'`{a}`' for a in s.aliases)}." if s.aliases else ""
            rows.append(f"| `{s.name}` | {default} | {s.allowed()} | {s.doc}{scope}.{alias} |")
        return "\n".join(rows)


def _alias_applies(setting: Setting, alias: str, variant) -> bool:
    """An alias is accepted only for the variant whose old name it was (``qeq_method`` for ``qeq``)."""
    prefix = alias.split("_", 1)[0]
    return not setting.variants or prefix not in setting.variants or prefix == variant
