"""Configuration read once, at the edge: one TOML or JSON file for enrichment and cluster settings."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path

from dashboards.settings import ClusterSettings
from enrich.config import ConfigError, EnrichConfig


def load_document(path: Path | None) -> Mapping[str, object]:
    """The config file as a mapping ({} without a file); ConfigError names the file."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from exc
    except UnicodeDecodeError:  # not quoted: the bytes could be anything
        raise ConfigError(f"{path}: cannot read the config file (not UTF-8 text)") from None
    kind = "JSON" if path.suffix == ".json" else "TOML"
    try:
        doc = json.loads(text) if kind == "JSON" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {kind}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the config must be a table/object at the top level")
    return doc


def load_config(path: Path | None) -> tuple[EnrichConfig, ClusterSettings]:
    """Enrichment config and cluster settings from one file, or the defaults."""
    doc = load_document(path)
    try:
        return EnrichConfig.from_mapping(doc), ClusterSettings.from_mapping(doc)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
