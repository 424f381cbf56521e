"""Local files and folders as sources (S3, Firehose and CloudWatch Logs sources live in their handlers)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


class SourceError(ValueError):
    """A source named on the command line does not exist or cannot be listed."""


@dataclass(frozen=True)
class LocalFile:
    """One file of WAF logs, gzip or plain (sniffed, not guessed from the name)."""

    path: Path

    @property
    def name(self) -> str:
        """How the source is named in reasons and logs."""
        return str(self.path)

    def open(self) -> BinaryIO:
        """The file's bytes, opened for streaming."""
        return self.path.open("rb")


def expand(paths: Iterable[Path]) -> list[LocalFile]:
    """Files as given; folders as every file below them (hidden ones skipped), in name order."""
    found: list[LocalFile] = []
    for path in paths:
        if path.is_file():
            found.append(LocalFile(path))
        elif path.is_dir():
            files = (p for p in sorted(path.rglob("*")) if p.is_file())
            found.extend(
                LocalFile(p)
                for p in files
                if not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            raise SourceError(f"{path}: no such file or folder")
    return found
