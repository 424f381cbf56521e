"""Local files, folders and standard input as sources (S3 objects are ``ingest.sources.s3``; Firehose
records and CloudWatch Logs events are joined by ``ingest.sources.payloads``).

A path named on the command line is read whatever it is (a file, a FIFO such as ``<(zcat …)``'s
``/dev/fd/63``, a character device); ``-`` is standard input. Inside a folder only regular files are
read (a FIFO there could block the run forever), and everything left out is listed in
``Expansion.skipped`` with the reason, so nothing is dropped silently.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

STDIN: Final = "-"


class SourceError(ValueError):
    """A source named on the command line does not exist or cannot be listed."""


def display_name(path: str | bytes | os.PathLike[str]) -> str:
    """``path`` as valid UTF-8 text for reasons, logs and JSON: bytes of a file name that are not UTF-8
    (surrogate-escaped by ``os.fsdecode``) are written as ``\\xff`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class LocalFile:
    """One file of WAF logs, gzip or plain (sniffed, not guessed from the name)."""

    path: Path

    @property
    def name(self) -> str:
        """How the source is named in reasons and logs (always valid UTF-8)."""
        return display_name(self.path)

    def open(self) -> BinaryIO:
        """The file's bytes, opened for streaming."""
        return self.path.open("rb")


@dataclass(frozen=True)
class StandardInput:
    """Standard input, named ``-`` on the command line."""

    stream: BinaryIO
    name: str = STDIN

    def open(self) -> BinaryIO:
        """The stream's bytes; closing what this returns leaves the process's standard input open."""
        return io.BufferedReader(_Borrowed(self.stream))


Local = LocalFile | StandardInput


@dataclass(frozen=True)
class Expansion:
    """What the paths named on the command line expand to: the sources, and what was left out and why
    (``"PATH: hidden"``, ``"PATH: cannot list (Permission denied)"``)."""

    sources: list[Local] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Local]:
        """The sources, so an Expansion can be handed to ``Pipeline.run`` as it is."""
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)


def expand(paths: Iterable[str | os.PathLike[str]], *, stdin: BinaryIO | None = None) -> Expansion:
    """Sources for ``paths``: ``-`` as standard input (``stdin``, by default ``sys.stdin.buffer``), a
    folder as the regular files below it in name order (hidden ones skipped and listed), anything
    else that exists as itself. A path that does not exist, or a folder that cannot be listed, is a
    SourceError."""
    expansion = Expansion()
    for path in paths:
        if os.fspath(path) == STDIN:
            if any(isinstance(s, StandardInput) for s in expansion.sources):
                raise SourceError("-: standard input can be named only once")
            expansion.sources.append(StandardInput(stdin if stdin is not None else sys.stdin.buffer))
            continue
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise SourceError(f"{display_name(path)}: no such file or folder") from None
        except OSError as exc:
            raise SourceError(f"{display_name(path)}: cannot read ({exc.strerror})") from None
        if stat.S_ISDIR(mode):
            _walk(Path(path), expansion)
        else:
            expansion.sources.append(LocalFile(Path(path)))
    return expansion


def _walk(root: Path, expansion: Expansion) -> None:
    """Add the regular files below ``root`` to ``expansion``; list what is left out and why."""
    found: list[Path] = []
    refused: list[OSError] = []
    for folder, folders, files in os.walk(root, onerror=refused.append):
        here = Path(folder)
        kept = []
        for name in sorted(folders):
            if name.startswith("."):
                expansion.skipped.append(f"{display_name(here / name)}: hidden")
            elif (here / name).is_symlink():  # os.walk does not follow links: a loop would never end
                expansion.skipped.append(f"{display_name(here / name)}: link to a folder, not followed")
            else:
                kept.append(name)
        folders[:] = kept
        for name in sorted(files):
            why = "hidden" if name.startswith(".") else _unreadable(here / name)
            if why is None:
                found.append(here / name)
            else:
                expansion.skipped.append(f"{display_name(here / name)}: {why}")
    for exc in refused:
        where = exc.filename if exc.filename is not None else root
        if Path(where) == root:
            raise SourceError(f"{display_name(root)}: cannot list ({exc.strerror})")
        expansion.skipped.append(f"{display_name(where)}: cannot list ({exc.strerror})")
    expansion.sources.extend(LocalFile(p) for p in sorted(found))


def _unreadable(path: Path) -> str | None:
    """Why a file found in a folder is not read, or None when it is a regular file (or a link to one)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"cannot read ({exc.strerror})"
    return None if stat.S_ISREG(mode) else "not a regular file"


class _Borrowed(io.RawIOBase):
    """Reads a stream this program does not own: closing the reader leaves the stream open."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._stream.read(len(view))
        view[: len(data)] = data
        return len(data)
