"""Configuration read once, at the edge: the enrichment config file (TOML or JSON)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from enrich.config import ConfigError, EnrichConfig


def load_config(path: Path | None) -> EnrichConfig:
    """The enrichment config in ``path``, or the defaults; ConfigError names the file and the key."""
    if path is None:
        return EnrichConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from exc
    try:
        doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from exc
    try:
        return EnrichConfig.from_mapping(doc)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
