"""The shape checks every config parser shares: each failure is one sentence naming the key.

Kept apart from ``enrich.config`` so the modules that own a table of the file (``enrich.owasp``,
``enrich.geo``) can parse it without importing the config they are part of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key and what is wrong with it."""


def only_keys(mapping: Mapping[str, object], allowed: set[str], where: str) -> None:
    """Raise ConfigError naming the first key of ``mapping`` that is not ``allowed``."""
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ConfigError(f"unknown key {prefix}{unknown[0]} (expected one of: {', '.join(sorted(allowed))})")


def table(value: object, where: str) -> Mapping[str, object]:
    """``value`` as a table, or ConfigError naming ``where``."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    return value


def sequence(value: object, where: str) -> Sequence[object]:
    """``value`` as a list, or ConfigError naming ``where``."""
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list")
    return value


def string(value: object, where: str) -> str:
    """``value`` as a string, or ConfigError naming ``where``."""
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string")
    return value


def strings(value: object, where: str) -> tuple[str, ...]:
    """A string or a list of strings as a tuple, or ConfigError naming ``where`` (and the item)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a string or a list of strings")
    items = sequence(value, where)
    return tuple(string(v, f"{where}[{i}]") for i, v in enumerate(items))


def boolean(value: object, where: str) -> bool:
    """``value`` as true or false, or ConfigError naming ``where``."""
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false")
    return value
