"""The report page's pieces that need no lake: the time grid and the escaping of embedded data."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from dashboards.report.buckets import MAX_COARSE, MAX_FINE, STEPS_MS, grid
from dashboards.report.render import render, script_json

T0 = datetime(2026, 1, 5, 0, 10, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("span", "fine_minutes", "coarse_minutes"),
    [
        (timedelta(minutes=20), 1, 1),
        (timedelta(hours=6), 5, 15),
        (timedelta(days=3), 15, 120),
        (timedelta(days=30), 360, 1440),
    ],
)
def test_the_grid_follows_the_span(span: timedelta, fine_minutes: int, coarse_minutes: int) -> None:
    g = grid(T0, T0 + span)
    assert (g.fine_ms, g.coarse_ms) == (fine_minutes * 60_000, coarse_minutes * 60_000)
    assert g.coarse_ms % g.fine_ms == 0
    assert g.start_ms % g.coarse_ms == 0  # epoch-aligned, so the page's buckets are whole
    assert g.start_ms <= T0.timestamp() * 1000
    assert g.start_ms + g.count * g.fine_ms >= (T0 + span).timestamp() * 1000
    assert g.count <= MAX_FINE + g.ratio
    assert g.count / g.ratio <= MAX_COARSE + 1


def test_every_step_divides_the_larger_steps_it_can_pair_with() -> None:
    for g in (grid(T0, T0 + timedelta(minutes=m)) for m in range(1, 200_000, 997)):
        assert g.coarse_ms in STEPS_MS
        assert g.fine_ms in STEPS_MS
        assert g.coarse_ms % g.fine_ms == 0


def test_embedded_json_cannot_close_its_script_element() -> None:
    hostile = {"uri": "</script><script>alert(1)</script><!--", "ua": "a\u2028b\u2029c & d > e"}
    text = script_json(hostile)
    assert re.search(r"[<>&\u2028\u2029]", text) is None
    assert json.loads(text) == hostile


def test_the_page_holds_only_its_own_two_scripts_and_a_policy_that_fetches_nothing() -> None:
    data = {"grid": {}, "note": "</script><script>alert(1)</script>"}
    page = render(data)
    assert page.count("<script") == 2
    assert page.count("</script>") == 2
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    assert "default-src 'none'" in policy.group(1)
    assert "script-src 'sha256-" in policy.group(1)
    assert "unsafe-inline" not in policy.group(1)
    payload = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert payload is not None
    assert json.loads(payload.group(1)) == data
    assert "@DATA@" not in page
    assert "@SCRIPT@" not in page
