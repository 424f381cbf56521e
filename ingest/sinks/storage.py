"""Where the lake and the dead-letter store keep their files: a local folder or ``s3://bucket/prefix``.

Both stores write through a ``pyarrow.fs.FileSystem``, so one code path serves a laptop and a Lambda.
For ``s3://`` targets pyarrow itself reads the credentials and the endpoint override
(``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``: ``S3Options::FromUri`` in Arrow's s3fs.cc); the region
is passed in, because without it and without an endpoint override pyarrow looks the bucket's region up
with a request to the global S3 endpoint.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from enrich.config import ConfigError

S3_SCHEME = "s3"


@dataclass(frozen=True)
class Location:
    """A folder: ``base`` is its path as ``filesystem`` spells it (``bucket/prefix`` on S3)."""

    filesystem: pafs.FileSystem
    base: str
    uri: str  # as its user wrote it, for messages

    @property
    def local(self) -> bool:
        """Whether the folder is on this machine (renames are atomic) rather than in an object store."""
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def join(self, *parts: str) -> str:
        """The path of ``parts`` below the base folder."""
        return posixpath.join(self.base, *parts)

    def files(self, folder: str) -> list[str]:
        """The paths of the files directly in ``folder``, sorted; none when it does not exist."""
        infos = self.filesystem.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        return sorted(info.path for info in infos if info.type == pafs.FileType.File)

    def exists(self, path: str) -> bool:
        """Whether ``path`` is a file (one metadata request on S3)."""
        return bool(self.filesystem.get_file_info(path).type == pafs.FileType.File)

    def write_bytes(self, path: str, data: bytes | memoryview) -> None:
        """Write ``path`` so that readers see all of ``data`` or nothing.

        S3 makes an object visible only once its PUT (or multipart upload) completes; a local file is
        written under a hidden name in the same folder, then renamed over the target.
        """
        if not self.local:
            with self.filesystem.open_output_stream(path) as out:
                out.write(data)
            return
        folder, name = posixpath.split(path)
        self.filesystem.create_dir(folder, recursive=True)
        temporary = posixpath.join(folder, f".{name}.tmp")  # hidden from readers until complete
        with self.filesystem.open_output_stream(temporary) as out:
            out.write(data)
        self.filesystem.move(temporary, path)

    def check_writable(self, option: str) -> None:
        """Prove the folder can be written, or raise ``ConfigError`` in one sentence naming ``option``.

        Local: a probe file in the nearest folder that exists (creating the rest needs the same right).
        S3: put and delete a zero-byte probe object; pyarrow's delete leaves its zero-byte folder marker
        (``prefix/``, ``EnsureParentExists`` in Arrow's s3fs.cc), which readers of the lake skip.
        """
        if self.local:
            check_local_folder(Path(self.base), option)
            return
        probe = self.join(f".waflens-probe-{uuid.uuid4().hex}")
        try:
            with self.filesystem.open_output_stream(probe) as out:
                out.write(b"")
            self.filesystem.delete_file(probe)
        except OSError as exc:
            raise ConfigError(f"{option} {self.uri}: cannot write there ({aws_reason(exc)})") from None


def check_local_folder(folder: Path, option: str) -> None:
    """Prove a local ``folder`` can be created (if missing) and written, or raise ``ConfigError``."""
    problem = _folder_problem(folder)
    if problem is not None:
        raise ConfigError(f"{option} {folder}: cannot write there ({problem})")


def check_local_file(path: Path, option: str) -> None:
    """Prove a local file can be appended to (its folder created if missing), or raise ``ConfigError``."""
    if path.is_dir():
        problem: str | None = "it is a folder"
    elif path.exists():
        problem = None if os.access(path, os.W_OK) else "Permission denied"
    else:
        problem = _folder_problem(path.absolute().parent)
    if problem is not None:
        raise ConfigError(f"{option} {path}: cannot write there ({problem})")


def _folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be created or written (a probe file in the nearest folder that exists)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        handle, probe = tempfile.mkstemp(prefix=".waflens-probe-", dir=existing)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def aws_reason(exc: OSError) -> str:
    """The AWS part of a pyarrow S3 error (``AWS Error NO_SUCH_BUCKET during PutObject operation: …``).

    pyarrow prefixes it with the bucket and key, which the caller's sentence already names.
    """
    text = str(exc)
    start = text.find("AWS Error ")
    return text[start:].split(" (Request ID", 1)[0] if start >= 0 else text


def resolve(target: str, *, option: str, region: str | None = None) -> Location:
    """The ``Location`` a setting names: ``s3://bucket/prefix``, or else a local folder.

    ``region`` is the bucket's AWS region (Lambda sets ``AWS_REGION``); without it pyarrow asks S3.
    """
    scheme = urlsplit(target).scheme
    if scheme == S3_SCHEME:
        return _s3(target, option=option, region=region)
    if "://" in target:
        raise ConfigError(f"{option} {target}: name a local folder or an s3://bucket/prefix URI")
    return Location(pafs.LocalFileSystem(), Path(target).as_posix(), target)


def _s3(target: str, *, option: str, region: str | None) -> Location:
    parts = urlsplit(target)
    if "@" in parts.netloc:  # not quoted back: what precedes the @ is a secret key
        raise ConfigError(
            f"{option}: an s3:// URI must not hold credentials (they come from the environment)"
        )
    if not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{option} {target}: name an S3 folder as s3://bucket/prefix")
    # allow_delayed_open: a file smaller than one part goes up as a single PutObject on close, not as
    # a three-request multipart upload
    options = {"allow_delayed_open": "true"} | ({"region": region} if region else {})
    uri = f"{target}?{urlencode(options)}"
    try:
        filesystem, base = pafs.FileSystem.from_uri(uri)
    except (OSError, pa.ArrowException) as exc:  # the bucket's region could not be looked up
        reason = aws_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise ConfigError(f"{option} {target}: cannot write there ({reason})") from None
    return Location(filesystem, base.rstrip("/"), target)
