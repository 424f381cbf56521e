"""storage.Location on a local folder, and how a target string becomes one (S3 runs in test_s3_lake)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

from enrich.config import ConfigError
from ingest.compose import Settings
from ingest.environment import ENV_DEFAULT_REGION, ENV_LAKE, ENV_REGION, settings_from_environ
from ingest.sinks.storage import resolve


def test_a_plain_path_is_a_local_folder_kept_as_written(tmp_path: Path) -> None:
    location = resolve(str(tmp_path / "lake"), option="--lake")
    assert location.local
    assert location.base == str(tmp_path / "lake")
    assert location.join("event_date=2021-01-11", "account=unknown") == (
        f"{tmp_path}/lake/event_date=2021-01-11/account=unknown"
    )


def test_a_missing_folder_lists_no_files_and_sub_folders_are_not_files(tmp_path: Path) -> None:
    location = resolve(str(tmp_path), option="--lake")
    assert location.files(location.join("missing")) == []
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.parquet").write_bytes(b"b")
    (tmp_path / "a.parquet").write_bytes(b"a")
    assert location.files(location.base) == [f"{tmp_path}/a.parquet", f"{tmp_path}/b.parquet"]


def test_a_local_write_creates_the_folders_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    location = resolve(str(tmp_path / "lake"), option="--lake")
    target = location.join("x=1", "part-a.parquet")
    location.write_bytes(target, b"first")
    location.write_bytes(target, memoryview(b"second"))
    assert Path(target).read_bytes() == b"second"
    assert [p.name for p in (tmp_path / "lake" / "x=1").iterdir()] == ["part-a.parquet"]


def test_a_local_probe_names_the_option_and_leaves_nothing(tmp_path: Path) -> None:
    resolve(str(tmp_path / "new" / "lake"), option="--lake").check_writable("--lake")
    assert list(tmp_path.iterdir()) == []
    occupied = tmp_path / "file"
    occupied.write_text("")
    with pytest.raises(ConfigError, match=f"^--lake {occupied}/lake: cannot write there"):
        resolve(str(occupied / "lake"), option="--lake").check_writable("--lake")


@pytest.mark.parametrize(
    ("target", "sentence"),
    [
        ("gs://bucket/lake", "--lake gs://bucket/lake: name a local folder or an s3://bucket/prefix URI"),
        ("s3:///lake", "--lake s3:///lake: name an S3 folder as s3://bucket/prefix"),
        (
            "s3://bucket/lake?region=x",
            "--lake s3://bucket/lake?region=x: name an S3 folder as s3://bucket/prefix",
        ),
    ],
)
def test_a_target_that_is_neither_a_folder_nor_an_s3_prefix_is_one_sentence(
    target: str, sentence: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        resolve(target, option="--lake")
    assert str(raised.value) == sentence


def test_credentials_in_an_s3_uri_are_refused_and_never_quoted_back() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve("s3://AKIDEXAMPLE:wlsecret-key@bucket/lake", option="--lake")
    assert "wlsecret" not in str(raised.value)
    assert "AKIDEXAMPLE" not in str(raised.value)


def test_an_s3_uri_with_a_region_needs_no_request_to_resolve() -> None:
    location = resolve("s3://waflens-lake/prod/", option="--lake", region="eu-west-3")
    assert isinstance(location.filesystem, pafs.S3FileSystem)
    assert location.filesystem.region == "eu-west-3"
    assert location.base == "waflens-lake/prod"
    assert not location.local


def test_the_region_comes_from_aws_region_then_aws_default_region() -> None:
    both = {ENV_LAKE: "s3://b/l", ENV_REGION: "eu-west-3", ENV_DEFAULT_REGION: "us-east-2"}
    assert settings_from_environ(both).s3_region == "eu-west-3"
    assert settings_from_environ({ENV_LAKE: "l", ENV_DEFAULT_REGION: "us-east-2"}).s3_region == "us-east-2"
    assert settings_from_environ({ENV_LAKE: "l"}).s3_region is None


def test_the_dead_letters_default_to_a_prefix_under_an_s3_lake() -> None:
    assert Settings(lake="s3://bucket/waflens").dead_letter_folder == "s3://bucket/waflens/_dead_letter"
    assert Settings(lake="s3://bucket/waflens/").dead_letter_folder == "s3://bucket/waflens/_dead_letter"
