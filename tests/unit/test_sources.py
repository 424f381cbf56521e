"""Sources named on the command line: files, folders, FIFOs, devices and standard input."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from ingest.decode.framing import Framer
from ingest.sources.local import Expansion, LocalFile, SourceError, StandardInput, expand

RECORD = b'{"timestamp":1,"webaclId":"w"}\n'


def names(expansion: Expansion) -> list[str]:
    return [s.name for s in expansion.sources]


def test_a_dash_is_standard_input_and_reading_it_leaves_standard_input_open() -> None:
    stdin = io.BytesIO(RECORD * 2)
    expansion = expand(["-"], stdin=stdin)
    [source] = expansion.sources
    assert isinstance(source, StandardInput)
    assert source.name == "-"
    with source.open() as stream:
        framed = [
            t for b in Framer(source.name, max_records=10, max_bytes=1 << 20).batches(stream) for t in b.texts
        ]
    assert framed == [RECORD.strip()] * 2
    assert not stdin.closed


def test_standard_input_named_twice_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="standard input"):
        expand(["-", "-"], stdin=io.BytesIO())


def test_a_fifo_and_a_character_device_are_read_as_named(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.log"  # what <(zcat …) passes as /dev/fd/63
    os.mkfifo(fifo)
    expansion = expand([fifo, Path(os.devnull)])
    assert expansion.sources == [LocalFile(fifo), LocalFile(Path(os.devnull))]
    assert expansion.skipped == []


def test_a_missing_path_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        expand([tmp_path / "absent.log"])


def test_a_file_name_that_is_not_utf8_is_named_in_valid_utf8_and_still_read(tmp_path: Path) -> None:
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/bad\xff.log"))
    path.write_bytes(RECORD)
    for expansion in (expand([path]), expand([tmp_path])):
        [source] = expansion.sources
        assert source.name == f"{tmp_path}/bad\\xff.log"
        assert source.name.encode("utf-8")
        with source.open() as stream:
            assert stream.read() == RECORD


def test_a_folder_yields_its_regular_files_in_name_order(tmp_path: Path) -> None:
    for name in ("b.log", "a/z.log", "a/b/c.log", "c.log.gz"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(RECORD)
    expansion = expand([tmp_path])
    assert [
        s.path.relative_to(tmp_path).as_posix() for s in expansion.sources if isinstance(s, LocalFile)
    ] == [
        "a/b/c.log",
        "a/z.log",
        "b.log",
        "c.log.gz",
    ]
    assert expansion.skipped == []


def test_hidden_files_and_folders_are_skipped_and_listed(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "objects.log").write_bytes(RECORD)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".partial.log").write_bytes(RECORD)
    (tmp_path / ".hidden.log").write_bytes(RECORD)
    (tmp_path / "visible.log").write_bytes(RECORD)
    expansion = expand([tmp_path])
    assert names(expansion) == [str(tmp_path / "visible.log")]
    assert sorted(expansion.skipped) == sorted(
        f"{tmp_path / p}: hidden" for p in (".git", "sub/.partial.log", ".hidden.log")
    )


def test_what_a_folder_holds_besides_regular_files_is_listed_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")  # reading it could block the run forever
    (tmp_path / "dangling").symlink_to(tmp_path / "absent")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.log").write_bytes(RECORD)
    (tmp_path / "linked").symlink_to(tmp_path / "elsewhere")  # a link to a folder could loop
    (tmp_path / "alias.log").symlink_to(tmp_path / "elsewhere" / "x.log")
    expansion = expand([tmp_path])
    assert names(expansion) == [str(tmp_path / "alias.log"), str(tmp_path / "elsewhere" / "x.log")]
    assert sorted(expansion.skipped) == [
        f"{tmp_path / 'dangling'}: cannot read (No such file or directory)",
        f"{tmp_path / 'linked'}: link to a folder, not followed",
        f"{tmp_path / 'pipe'}: not a regular file",
    ]


def test_a_sub_folder_that_cannot_be_listed_is_listed_and_the_rest_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x.log").write_bytes(RECORD)
    (tmp_path / "ok.log").write_bytes(RECORD)
    _refuse_listing(monkeypatch, tmp_path / "locked")  # chmod 000 does not stop root
    expansion = expand([tmp_path])
    assert names(expansion) == [str(tmp_path / "ok.log")]
    assert expansion.skipped == [f"{tmp_path / 'locked'}: cannot list (Permission denied)"]


def test_a_folder_named_on_the_command_line_that_cannot_be_listed_is_a_source_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_listing(monkeypatch, tmp_path)
    with pytest.raises(SourceError, match="cannot list"):
        expand([tmp_path])


def test_an_expansion_iterates_as_its_sources(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(RECORD)
    expansion = expand([tmp_path / "a.log", "-"], stdin=io.BytesIO())
    assert list(expansion) == expansion.sources
    assert len(expansion) == 2


def _refuse_listing(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    real = os.scandir

    def scandir(path: str) -> object:
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
