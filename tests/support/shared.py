"""Locate the read-only ``shared`` folder (specs, WAF samples) that sits beside the repository.

The folder is ``<repo>/../shared`` unless ``WAFLENS_SHARED_DIR`` names another place. Tests that
need it call :func:`shared_dir` or :func:`require_shared`: in CI (``CI=true``) a missing folder or
file fails the test, because a skipped spec check there would be a check that cannot fail; on a
developer machine without the folder the test is skipped with a reason that says how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DIR_ENV = "WAFLENS_SHARED_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]


def in_ci() -> bool:
    """True when running under CI (GitHub Actions, GitLab and most others set ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def _missing(what: str, path: Path) -> None:
    reason = (
        f"{what} not found at {path}; set {SHARED_DIR_ENV} to the shared folder (default: <repo>/../shared)"
    )
    if in_ci():
        pytest.fail(f"{reason} — required in CI, refusing to skip", pytrace=False)
    pytest.skip(reason)


def shared_dir() -> Path:
    """Path of the shared folder; fails in CI and skips locally when it does not exist."""
    override = os.environ.get(SHARED_DIR_ENV)
    path = Path(override).expanduser().resolve() if override else (REPO_ROOT.parent / "shared").resolve()
    if not path.is_dir():
        _missing("shared folder", path)
    return path


def require_shared(path: Path) -> Path:
    """Return ``path`` (a file or folder under the shared folder) or fail in CI / skip locally."""
    if not path.exists():
        _missing("shared file", path)
    return path
