"""``waflens-dev bench`` runs every path on the same input and reports what the README promises.

The speed ratios themselves are measured by running the command (README, "Performance"), not asserted
here: a timed assertion in a test suite is not a benchmark.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from devtools.bench import PATHS
from devtools.cli import main


def test_bench_measures_every_path_on_the_same_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--records", "3000", "--json", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1  # --json prints the summary alone
    result = orjson.loads(out[0])
    for key in (
        "pipeline_rps",
        "reference_rps",
        "ceiling_rps",
        "ratio_vs_reference",
        "ratio_vs_ceiling",
        "peak_rss_mb",
    ):
        assert result[key] > 0, key
    assert result["ratio_vs_reference"] == round(result["pipeline_rps"] / result["reference_rps"], 2)
    paths = result["paths"]
    assert set(paths) == set(PATHS)
    assert {p["records"] for p in paths.values()} == {3000}
    # the vectorized path and the per-record reference write the same bulk bodies, byte for byte in size
    assert paths["pipeline"]["bytes_out"] == paths["reference"]["bytes_out"] > 3000 * 1000
    assert all(p["peak_rss_mb"] > 20 for p in paths.values())


def test_bench_prints_a_table_before_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--records", "500", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].split() == ["path", "records/s", "MB/s", "seconds", "peak", "RSS", "MB"]
    assert [line.split()[0] for line in out[1:5]] == list(PATHS)
    assert out[5].startswith("pipeline/reference = ")
    assert orjson.loads(out[-1])["records"] == 500
