"""Hostile input that used to lose or miscount records: every record is counted once, in one outcome.

Expected counts are stated per case; every record here is a complete valid record unless a case says
otherwise, and the first record of each case carries its secret in an Authorization header.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import zlib
from pathlib import Path

import pytest

from tests.support.hostile import (
    WEBACL_ID,
    Expect,
    authorized,
    check,
    check_usage_error,
    dead_letters,
    dumps,
    fifo_feeding,
    files_below,
    lake_frame,
    line,
    not_plain,
    raw,
    record,
    run_ingest,
    secret,
    undelivered,
    valid_records,
    write_valid,
)


def test_a_gzip_stream_followed_by_plain_records(tmp_path: Path) -> None:
    planted = secret("gzip-then-plain")
    compressed, first = valid_records("z", 3, planted)
    plain, second = valid_records("y", 2, planted)
    source = tmp_path / "mixed.log"
    source.write_bytes(gzip.compress(compressed, mtime=0) + plain)  # cat a.log.gz b.log

    run = run_ingest(tmp_path, [source])

    check(
        run, Expect(records_in=5, delivered=5, secrets=[planted], also=undelivered(run.lake, first + second))
    )


def test_a_fifo_named_on_the_command_line(tmp_path: Path) -> None:
    planted = secret("fifo")
    data, ids = valid_records("f", 3, planted)
    with fifo_feeding(tmp_path / "pipe.log", data):
        run = run_ingest(tmp_path, [tmp_path / "pipe.log"], timeout=60)

    check(run, Expect(records_in=3, delivered=3, secrets=[planted], also=undelivered(run.lake, ids)))


def test_standard_input_named_as_a_dash(tmp_path: Path) -> None:
    planted = secret("stdin")
    data, ids = valid_records("s", 3, planted)

    run = run_ingest(tmp_path, ["-"], stdin=data, timeout=60)

    check(run, Expect(records_in=3, delivered=3, secrets=[planted], also=undelivered(run.lake, ids)))


ENCODINGS = {
    "utf-16-le-bom": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-8-bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_a_file_with_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    planted = secret(f"bom-{encoding}")
    data, ids = valid_records("e", 3, planted)
    source = tmp_path / "bom.log"
    source.write_bytes(ENCODINGS[encoding](data.decode()))

    run = run_ingest(tmp_path, [source])

    check(run, Expect(records_in=3, delivered=3, secrets=[planted], also=undelivered(run.lake, ids)))


FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
OTHER_WEBACL = "arn:aws:wafv2:us-east-1:444455556666:regional/webacl/other/def"


def test_a_duplicate_action_key_is_read_one_way_everywhere(tmp_path: Path) -> None:
    planted = secret("duplicate-action")
    source = tmp_path / "dup.log"
    text = raw(authorized("k-1", planted) | {"action": "@a@"}, a='"ALLOW","action":"BLOCK"')
    source.write_bytes(text.encode() + b"\n")

    run = run_ingest(tmp_path, [source])

    lake = lake_frame(run.lake)
    also = []
    if lake.height == 1:
        row = lake.row(0, named=True)
        original = json.loads(row["event_original"])  # json.loads: the last duplicate wins
        seen = {"action": row["action"], "event_original": original["action"]}
        if len(set(seen.values())) != 1 or row["waflens"]["blocked"] != (original["action"] == "BLOCK"):
            also.append(f"duplicate action read differently: {seen}, blocked={row['waflens']['blocked']}")
    check(run, Expect(records_in=1, delivered=1, secrets=[planted], also=also))


def test_a_duplicate_webacl_id_with_another_account_is_read_one_way_everywhere(tmp_path: Path) -> None:
    planted = secret("duplicate-webacl")
    source = tmp_path / "dup.log"
    both = f"{dumps(WEBACL_ID)},{dumps('webaclId')}:{dumps(OTHER_WEBACL)}"
    text = raw(authorized("k-2", planted) | {"webaclId": "@w@"}, w=both)
    source.write_bytes(text.encode() + b"\n")

    run = run_ingest(tmp_path, [source])

    lake = lake_frame(run.lake)
    also = []
    if lake.height == 1:
        row = lake.row(0, named=True)
        last = json.loads(row["event_original"])["webaclId"].split(":")[4]
        seen = {
            "typed webaclId": row["webaclId"].split(":")[4],
            "waflens.webacl.account_id": row["waflens"]["webacl"]["account_id"],
            "partition": row["account"],
            "event_original": last,
        }
        if len(set(seen.values())) != 1:
            also.append(f"duplicate webaclId read differently: {seen}")
    check(run, Expect(records_in=1, delivered=1, secrets=[planted], also=also))


def test_a_dead_letter_folder_that_cannot_be_written_stops_before_any_work(tmp_path: Path) -> None:
    planted = secret("unwritable-dead-letter")
    source = tmp_path / "ok.log"
    write_valid(source, "u", 2, planted)

    run = run_ingest(tmp_path, [source], dead_letter=Path("/proc/waflens-dl"))

    check_usage_error(run, mentions="/proc/waflens-dl", secrets=[planted])


def test_a_lake_folder_that_cannot_be_created_stops_before_any_work(tmp_path: Path) -> None:
    planted = secret("unwritable-lake")
    source = tmp_path / "ok.log"
    write_valid(source, "v", 2, planted)

    run = run_ingest(tmp_path, [source], lake=Path("/proc/waflens-lake"))

    check_usage_error(run, mentions="/proc/waflens-lake", secrets=[planted])
    assert not files_below(run.dead_letter), "dead letters written before the usage error"


def test_hidden_files_and_folders_are_skipped_and_listed(tmp_path: Path) -> None:
    planted = secret("hidden")
    folder = tmp_path / "logs"
    (folder / ".git").mkdir(parents=True)
    (folder / "sub").mkdir()
    visible = write_valid(folder / "visible.log", "vis", 2, planted)
    write_valid(folder / ".hidden.log", "hid", 1, planted)
    write_valid(folder / ".git" / "objects.log", "git", 1, planted)
    write_valid(folder / "sub" / ".partial.log", "par", 1, planted)
    hidden = [folder / ".hidden.log", folder / ".git", folder / "sub" / ".partial.log"]

    run = run_ingest(tmp_path, [folder])

    listed = (run.summary or {}).get("skipped")
    skipped = [str(s) for s in listed] if isinstance(listed, list) else []
    also = undelivered(run.lake, visible)
    also += [f"{h} not in the summary's skipped list {skipped}" for h in hidden if not _listed(h, skipped)]
    check(run, Expect(records_in=2, delivered=2, secrets=[planted], also=also))


def _listed(path: Path, skipped: list[str]) -> bool:
    """An entry of ``skipped`` names ``path`` (alone or followed by ``: why``), or something under it."""
    return any(s == str(path) or s.startswith((f"{path}:", f"{path}{os.sep}")) for s in skipped)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 folder anyway: nothing is unreadable")
def test_an_unreadable_sub_folder_is_reported_and_the_rest_delivered(tmp_path: Path) -> None:
    planted = secret("unreadable")
    folder = tmp_path / "logs"
    (folder / "locked").mkdir(parents=True)
    ids = write_valid(folder / "ok.log", "ok", 2, planted)
    write_valid(folder / "locked" / "x.log", "locked", 1, planted)
    (folder / "locked").chmod(0)
    try:
        run = run_ingest(tmp_path, [folder])
    finally:
        (folder / "locked").chmod(0o755)

    listed = (run.summary or {}).get("unreadable")
    unreadable = [str(u) for u in listed] if isinstance(listed, list) else []
    also = undelivered(run.lake, ids)
    if not any("locked" in u for u in unreadable):
        also.append(f"the locked folder is not in the summary's unreadable list {unreadable}")
    check(run, Expect(records_in=2, exit_code=1, delivered=2, secrets=[planted], also=also))


def test_a_webacl_id_with_full_width_digits_is_filed_under_an_unknown_account(tmp_path: Path) -> None:
    planted = secret("full-width")
    source = tmp_path / "wide.log"
    digits = "111122223333".translate(FULL_WIDTH)  # U+FF11..: digits to str.isdigit, not to an ARN
    wide = authorized("fw-1", planted) | {"webaclId": f"arn:aws:wafv2:us-east-1:{digits}:regional/webacl/a/1"}
    source.write_bytes(line(wide))

    run = run_ingest(tmp_path, [source])

    folders = sorted({p.parent.name for p in files_below(run.lake) if p.suffix == ".parquet"})
    also = (
        []
        if folders == ["account=unknown"]
        else [f"lake account folders {folders}, expected account=unknown"]
    )
    also += [f"non-ASCII lake path part {n!r}" for n in not_plain(p.name for p in run.lake.rglob("*"))]
    check(run, Expect(records_in=1, delivered=1, secrets=[planted], also=also))


def _damaged_gzip(planted: str) -> tuple[bytes, list[str], dict[str, int]]:
    """300 records, then one whose Authorization value the damage cuts, then 300 more the damage hides.

    A full flush puts the damage at a byte-aligned block start; ``0xff`` there is a reserved block type,
    so zlib fails at once instead of inventing bytes. Returns the file, the ids before the damage, and
    the offsets a dead-letter entry may name for where the damage starts.
    """
    before = [f"d-{i}" for i in range(300)]
    head = b"".join(line(record(i)) for i in before)
    cut = line(authorized("d-cut", planted))
    cut = cut[: cut.index(planted.encode()) + len(planted) // 2]
    rest = b"".join(line(record(f"d-after-{i}")) for i in range(300))
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    good = compressor.compress(head + cut) + compressor.flush(zlib.Z_FULL_FLUSH)
    after = compressor.compress(rest) + compressor.flush()
    data = good + b"\xff" * 64 + after[64:]
    offsets = {"compressed": len(good), "decompressed": len(head) + len(cut), "record start": len(head)}
    return data, before, offsets


def test_a_damaged_gzip_keeps_what_came_before_and_says_where(tmp_path: Path) -> None:
    planted = secret("damaged-gzip")
    data, before, offsets = _damaged_gzip(planted)
    source = tmp_path / "damaged.log.gz"
    source.write_bytes(data)

    run = run_ingest(tmp_path, [source])

    also = undelivered(run.lake, before)
    named = [e for e in dead_letters(run) if str(source) in json.dumps(e)]
    said = {int(n) for e in named for n in re.findall(r"offset\D{0,20}(\d+)", json.dumps(e))}
    if not said & set(offsets.values()):
        also.append(f"no dead-letter entry names {source} and a damage offset {offsets}: {named}")
    # 300 complete records, then the cut-off tail (the damaged rest) as one rejected record
    check(run, Expect(records_in=301, exit_code=1, delivered=300, rejected=1, secrets=[planted], also=also))
