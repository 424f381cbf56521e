"""The lake and the dead letters on S3: moto's server on loopback, real samples, the real composition root.

pyarrow reads the endpoint (``AWS_ENDPOINT_URL``) and the credentials from the environment, as it will in
Lambda; the objects are read back with boto3, a client independent of the one that wrote them.
"""

from __future__ import annotations

import io
import re
import socket
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import orjson
import polars as pl
import pytest
from moto.server import ThreadedMotoServer
from polars.testing import assert_frame_equal

from devtools.generate import write_logs
from enrich import schema as S
from enrich.config import ConfigError
from ingest.cli.main import main
from ingest.compose import Settings, build_pipeline
from ingest.outcomes import RunSummary
from ingest.run import Limits
from ingest.sources.local import expand
from tests.support.hostile import Blob, authorized, dumps, leaks, line, record
from tests.support.samples import MALFORMED, RAW_COUNTS, sample, samples_dir

BUCKET = "waflens-test"
REGION = "us-east-1"
LAKE = f"s3://{BUCKET}/waflens"
PARQUET_KEY = re.compile(
    r"waflens/event_date=\d{4}-\d{2}-\d{2}/account=(\d{12}|unknown)/part-[0-9a-f]{24}\.parquet"
)
DEAD_LETTER_KEY = re.compile(r"waflens/_dead_letter/rejected-[0-9a-f]{24}\.ndjson")
# pyarrow's delete of the writability probe leaves a zero-byte marker for its folder (EnsureParentExists)
FOLDER_MARKERS = {"waflens/", "waflens/_dead_letter/"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, for this module's tests."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 client on an empty moto S3 holding one bucket; the environment points pyarrow at it."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


def corpus() -> list[Path]:
    """Every sample: the NDJSON files, the framing variants and the malformed ones."""
    return [
        *sorted(samples_dir().glob("*.ndjson")),
        *(sample("raw", name) for name in sorted(RAW_COUNTS)),
        *(sample("malformed", name) for name in MALFORMED),
    ]


def ingest(paths: Sequence[Path], **settings: Any) -> RunSummary:
    """One run of the pipeline ``build_pipeline`` makes from ``Settings(**settings)``."""
    pipeline = build_pipeline(Settings(**settings))
    summary = pipeline.run(expand(paths).sources, keep_records=False).summary
    assert summary.balanced, summary.as_dict()
    return summary


def objects(s3: Any) -> dict[str, bytes]:
    """Every object in the bucket, by key."""
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def rows(files: dict[str, bytes]) -> pl.DataFrame:
    """The rows of every Parquet file in ``files``, in ``_id`` order."""
    frames = [pl.read_parquet(io.BytesIO(data)) for name, data in files.items() if name.endswith(".parquet")]
    return pl.concat(frames).sort(S.DOC_ID)


def local_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by its path relative to ``root``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_samples_land_in_s3_in_the_hive_layout_with_the_same_rows_and_dead_letters_as_a_local_lake(
    s3: Any, tmp_path: Path
) -> None:
    local = ingest(corpus(), lake=str(tmp_path / "lake"))
    remote = ingest(corpus(), lake=LAKE, s3_region=REGION)
    assert remote.as_dict() == local.as_dict()
    assert remote.delivered > 300
    assert remote.rejected >= len(MALFORMED)

    stored = objects(s3)
    keys = set(stored)
    assert {k for k in keys if k.endswith("/")} == FOLDER_MARKERS
    assert all(stored[k] == b"" for k in FOLDER_MARKERS)
    files = {k: v for k, v in stored.items() if k not in FOLDER_MARKERS}
    assert all(PARQUET_KEY.fullmatch(k) or DEAD_LETTER_KEY.fullmatch(k) for k in files), sorted(files)
    on_disk = local_files(tmp_path / "lake")
    assert {k.removeprefix("waflens/") for k in files} == set(on_disk)
    assert_frame_equal(rows(files), rows(on_disk))
    for name, data in on_disk.items():
        if name.endswith(".ndjson"):
            assert files[f"waflens/{name}"] == data


def test_a_replay_into_s3_adds_no_object_and_no_row(s3: Any) -> None:
    inputs = [sample("panther.ndjson"), sample("raw", "wazuh_aws-waf_concatenated.log")]
    first = ingest(inputs, lake=LAKE, s3_region=REGION)
    before = objects(s3)
    again = ingest(inputs, lake=LAKE, s3_region=REGION)
    after = objects(s3)
    assert first.delivered == again.delivered == again.already_present == 13
    assert after == before
    stored = rows(after)
    assert stored.height == stored[S.DOC_ID].n_unique() == 10  # the wazuh sample holds 4 distinct records


def test_a_corrupt_object_in_an_s3_partition_blocks_no_write_and_compaction_names_the_partition(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    partition = "waflens/event_date=2021-01-11/account=unknown"  # a day of the panther sample
    s3.put_object(Bucket=BUCKET, Key=f"{partition}/part-0.parquet", Body=b"PAR1 not really parquet PAR1")
    pipeline = build_pipeline(Settings(lake=LAKE, s3_region=REGION))
    result = pipeline.run(expand([sample("panther.ndjson")]).sources)
    assert (result.summary.retryable, result.summary.delivered) == (0, 6)  # writes never read the lake
    assert main(["compact", LAKE]) == 1
    report = orjson.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["unreadable"] == ["event_date=2021-01-11/account=unknown: ArrowInvalid"]
    assert s3.get_object(Bucket=BUCKET, Key=f"{partition}/part-0.parquet")["Body"].read().startswith(b"PAR1")


def test_rejected_records_are_ndjson_dead_letters_in_s3_and_no_object_holds_the_planted_secret(
    s3: Any, tmp_path: Path
) -> None:
    broken, kept = "wlsecret-" + "5f1e" * 6, "wlsecret-" + "9a0c" * 6
    malformed = dumps(authorized("m-0", broken)).replace('"action":"ALLOW"', '"action":ALLOW')
    source = tmp_path / "mixed.log"
    source.write_bytes(line(record("m-1")) + malformed.encode() + b"\n" + line(authorized("m-2", kept)))

    summary = ingest([source], lake=LAKE, s3_region=REGION)

    assert (summary.delivered, summary.rejected) == (2, 1)
    stored = objects(s3)
    letters = [k for k in stored if k.startswith("waflens/_dead_letter/") and k.endswith(".ndjson")]
    assert len(letters) == 1
    entries = [orjson.loads(text) for text in stored[letters[0]].splitlines()]
    assert [(e["source"], e["kind"]) for e in entries] == [(str(source), "invalid_json")]
    assert "Authorization" in entries[0]["original"]
    blobs: list[tuple[str, Blob]] = []
    for key, data in stored.items():
        blobs += [(f"key {key}", key.encode()), (key, data)]
        if key.endswith(".parquet"):
            blobs.append((f"{key} (values)", pl.read_parquet(io.BytesIO(data)).lazy()))
    assert leaks(blobs, [broken, kept]) == []


def test_a_bucket_that_does_not_exist_is_one_config_error_before_any_work(s3: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        build_pipeline(Settings(lake="s3://no-such-bucket/waflens", s3_region=REGION))
    message = str(raised.value)
    assert message.startswith(
        "lake s3://no-such-bucket/waflens: cannot write there (AWS Error NO_SUCH_BUCKET"
    )
    assert "\n" not in message
    assert objects(s3) == {}


def test_the_command_line_names_an_unwritable_bucket_in_one_sentence_and_reads_nothing(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["ingest", str(sample("panther.ndjson")), "--lake", "s3://no-such-bucket/waflens"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("waflens: --lake s3://no-such-bucket/waflens: cannot write there (")
    assert err.count("\n") == 1
    assert objects(s3) == {}


def test_compaction_on_s3_leaves_one_object_per_partition_and_each_event_once(
    s3: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    inputs = [tmp_path / "waf.log"]
    write_logs(inputs[0], 4_000, seed=2)
    ingest(inputs, lake=LAKE, s3_region=REGION, limits=Limits(batch_records=1_000))
    ingest(inputs, lake=LAKE, s3_region=REGION, limits=Limits(batch_records=1_700))  # other cuts, other files
    before = rows(objects(s3))
    assert before.height > before[S.DOC_ID].n_unique()

    assert main(["compact", LAKE]) == 0
    report = orjson.loads(capsys.readouterr().out.splitlines()[-1])
    stored = objects(s3)
    parquet = [k for k in stored if k.endswith(".parquet")]
    assert len(parquet) == len({k.rsplit("/", 1)[0] for k in parquet}) == report["files_after"]
    after = rows(stored)
    assert after.height == after[S.DOC_ID].n_unique() == before[S.DOC_ID].n_unique()
    assert report["duplicates_removed"] == before.height - after.height
