"""An S3 object as a pipeline source, streamed with ``GetObject``.

The body is read in the framing layer's blocks (``ingest.decode.framing.READ_SIZE``), so memory follows
the batch, never the object; gzip or plain is sniffed by the decode layer, not guessed from the key.
Errors name an S3 error code or a botocore exception type, never a message, and surface as ``OSError``,
so the pipeline ends the source ``unreadable`` and the caller hands it over again. An object that does
not exist (any more) is the one exception the caller can act on: ``S3Object.missing`` says so.
"""

from __future__ import annotations

import errno
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# What S3 answers when the object, its version or its bucket is gone: reading again cannot help.
MISSING_CODES: Final = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404"})


class S3Client(Protocol):
    """The part of a boto3 ``s3`` client a source uses."""

    def get_object(self, **kwargs: Any) -> Mapping[str, Any]: ...


class _Body(Protocol):
    def read(self, amt: int | None = None) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ObjectRef:
    """An object an event announced: its bucket, its key (decoded) and, in a versioned bucket, its version."""

    bucket: str
    key: str
    version_id: str | None = None

    @property
    def name(self) -> str:
        """``s3://bucket/key``, with ``?versionId=`` when a version is named (two versions, two sources).

        ``null`` is the version of an object written while versioning was off: the key names it enough.
        """
        name = f"s3://{self.bucket}/{self.key}"
        return f"{name}?versionId={self.version_id}" if self.version_id not in (None, "null") else name


@dataclass(eq=False)
class S3Object:
    """One object read as a source. ``missing`` is set by ``open`` when S3 answers that it does not exist."""

    ref: ObjectRef
    client: S3Client
    missing: str | None = field(default=None, init=False)  # the S3 error code (NoSuchKey, ...)

    @property
    def name(self) -> str:
        """How the source is named in outcomes, dead letters and logs."""
        return self.ref.name

    def open(self) -> BinaryIO:
        """The object's body, streamed; ``OSError`` naming the error code when S3 will not serve it."""
        request = {"Bucket": self.ref.bucket, "Key": self.ref.key}
        if self.ref.version_id:
            request["VersionId"] = self.ref.version_id
        try:
            response = self.client.get_object(**request)
        except ClientError as exc:
            code = error_code(exc)
            if code in MISSING_CODES:
                self.missing = code
                raise FileNotFoundError(errno.ENOENT, f"the object does not exist ({code})") from None
            raise OSError(errno.EIO, f"S3 refused GetObject ({code})") from None
        except BotoCoreError as exc:  # no connection, a timeout, no credentials: after botocore's retries
            raise OSError(errno.EIO, f"GetObject failed ({type(exc).__name__})") from None
        return io.BufferedReader(_Stream(response["Body"]))


def error_code(exc: ClientError) -> str:
    """An S3 error as its code (``NoSuchKey``, ``AccessDenied``, ``SlowDown``): never its message."""
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))


class _Stream(io.RawIOBase):
    """A ``GetObject`` body as a raw stream whose read failures are ``OSError``s naming their type."""

    def __init__(self, body: _Body) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except BotoCoreError as exc:  # the connection broke or stalled mid-object (ResponseStreamingError)
            raise OSError(errno.EIO, f"reading the object failed ({type(exc).__name__})") from None
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        """Close the connection too: a body left unread (the deadline came) is not drained first."""
        if not self.closed:
            self._body.close()
        super().close()
