"""The ``waflens`` argument parser: ``--help`` names every option's default, ``--version`` the package's."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version
from typing import Any

DISTRIBUTION = "waflens"


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that ends each option with its default; a help text that already names it is left as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        if action.required:
            return f"{text} (required)".lstrip()
        if action.nargs == 0:  # a flag: store_true and the like
            return f"{text} (default: {'on' if action.default else 'off'})".lstrip()
        if action.default is None:
            return f"{text} (default: not set)".lstrip()
        return f"{text} (default: %(default)s)".lstrip()


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose help shows defaults; sub-command parsers are made of the same class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # argparse's own signature, passed through
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)


def package_version() -> str:
    """The installed waflens version (``unknown`` when run from a source tree that was never installed)."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
