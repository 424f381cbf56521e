"""Sources read and framed ahead, on a thread of their own, while the caller works on the batch before.

Reading, gunzip and framing run in Python and zlib; decoding, enrichment and writes run in Polars, which
releases the GIL. Overlapping the two keeps both cores busy. The queue holds at most ``depth`` pieces,
so memory grows by that many framed pieces, never with the input.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from types import TracebackType
from typing import Final, Generic, Protocol, TypeVar

_POLL: Final = 0.1  # seconds between checks for a caller that stopped listening

T = TypeVar("T")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


S = TypeVar("S", bound=_Named)


class ReadAhead(Generic[S, T]):
    """``(source, piece)`` for each piece ``frame(source)`` yields, in order, framed ahead on a thread.

    ``(source, None)`` comes first for each source, before any of its pieces: where the caller decides
    whether to read it at all. The thread opens a source only while ``start()`` is true (the caller's
    deadline), so nothing is read that the caller will not take. ``skip(source)`` stops reading a
    source: nothing more of it is handed over. Use as a context manager: leaving it stops the thread.
    """

    def __init__(
        self,
        sources: Iterable[S],
        frame: Callable[[S], Generator[T]],
        *,
        start: Callable[[], bool] = lambda: True,
        depth: int = 2,
    ) -> None:
        self._sources = sources
        self._frame = frame
        self._start = start
        self._queue: queue.Queue[tuple[str, S | None, T | BaseException | None]] = queue.Queue(depth)
        self._skipped: set[int] = set()  # id() of skipped sources; each is held by the caller's events
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="waflens-read-ahead", daemon=True)

    def __enter__(self) -> ReadAhead[S, T]:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._closed.set()
        # after an error (Ctrl-C too) the thread may be blocked reading a pipe: it is a daemon, let it be
        self._thread.join(timeout=None if kind is None else _POLL)

    def skip(self, source: S) -> None:
        """Read no more of ``source``."""
        self._skipped.add(id(source))

    def __iter__(self) -> Iterator[tuple[S, T | None]]:
        while True:
            kind, source, item = self._queue.get()
            if kind == "done":
                return
            if kind == "error":
                assert isinstance(item, BaseException)
                raise item
            assert source is not None
            if id(source) not in self._skipped:
                yield source, item  # type: ignore[misc]  # a piece, or None when the source starts

    def _produce(self) -> None:
        try:
            for source in self._sources:
                if not self._put(("start", source, None)):
                    return
                if not self._start():
                    continue
                pieces = self._frame(source)
                for piece in pieces:
                    if id(source) in self._skipped or not self._put(("piece", source, piece)):
                        pieces.close()
                        break
                if self._closed.is_set():
                    return
        except BaseException as exc:  # a bug in framing: handed to the caller's thread, raised there
            self._put(("error", None, exc))
        finally:
            self._put(("done", None, None))

    def _put(self, event: tuple[str, S | None, T | BaseException | None]) -> bool:
        """Queue ``event``; False once the caller has left."""
        while not self._closed.is_set():
            try:
                self._queue.put(event, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False
