"""Typed builders for Dashboards content: what to show, on which fields, laid out on the grid.

Nothing here knows the saved-object encoding (``encode.py`` does): a visualization is a count of
documents matching a query, over time or by the terms of one or more fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

GRID_COLUMNS: Final = 48  # Dashboards' DASHBOARD_GRID_COLUMN_COUNT
BLOCKED: Final = "waflens.blocked:true"
COUNTED: Final = "waflens.counted:true"

TimeChart = Literal["line", "area", "histogram"]
TermsChart = Literal["horizontal_bar", "table", "pie"]


@dataclass(frozen=True)
class Terms:
    """A terms bucket: the ``size`` most frequent values of ``field`` by request count."""

    field: str
    size: int = 10
    label: str | None = None
    include: str | None = None  # a regex the bucket keys must match (labels of one managed rule group)
    missing: str | None = None  # show documents without the field under this label


@dataclass(frozen=True)
class Metric:
    """One big number: the count of requests matching ``query``."""

    id: str
    title: str
    label: str
    query: str = ""
    description: str = ""


@dataclass(frozen=True)
class OverTime:
    """Request counts per time bucket of the index pattern's time field, optionally split into series."""

    id: str
    title: str
    chart: TimeChart
    split: Terms | None = None
    query: str = ""
    description: str = ""


@dataclass(frozen=True)
class TopTerms:
    """Request counts by the terms of ``rows[0]``, each broken down by the following ``rows``.

    A horizontal bar stacks the second field's values; a pie draws one ring per field; a table has a
    column per field.
    """

    id: str
    title: str
    chart: TermsChart
    rows: tuple[Terms, ...]
    query: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError(f"{self.id}: terms need at least one field")
        if self.chart == "horizontal_bar" and len(self.rows) > 2:
            raise ValueError(f"{self.id}: a horizontal bar takes one field and at most one to stack")


Visualization = Metric | OverTime | TopTerms


@dataclass(frozen=True)
class SavedSearch:
    """Raw events matching ``query`` shown as ``columns``, sorted by ``sort`` (field, direction) pairs."""

    id: str
    title: str
    columns: tuple[str, ...]
    sort: tuple[tuple[str, Literal["asc", "desc"]], ...]
    query: str = ""
    description: str = ""


@dataclass(frozen=True)
class Panel:
    """A visualization or saved search on a dashboard, ``w`` of the 48 columns wide and ``h`` rows high."""

    content: Visualization | SavedSearch
    w: int = 24
    h: int = 15

    def __post_init__(self) -> None:
        if not 1 <= self.w <= GRID_COLUMNS or self.h < 1:
            raise ValueError(f"panel {self.content.id}: w must be 1-{GRID_COLUMNS} and h at least 1")


@dataclass(frozen=True)
class Placed:
    """A panel with its place on the grid (top-left corner ``x``, ``y``)."""

    panel: Panel
    x: int
    y: int


@dataclass(frozen=True)
class Dashboard:
    """Panels flowing left to right, a new row when the next one would pass column 48.

    ``time_from``/``time_to`` are restored on open; None leaves the viewer's time range alone.
    """

    id: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    time_from: str | None = "now-24h"
    time_to: str = "now"

    def layout(self) -> tuple[Placed, ...]:
        """Each panel with its grid position; rows never overlap because each starts below the last."""
        placed: list[Placed] = []
        x = y = row_height = 0
        for panel in self.panels:
            if x + panel.w > GRID_COLUMNS:
                x, y, row_height = 0, y + row_height, 0
            placed.append(Placed(panel, x, y))
            x, row_height = x + panel.w, max(row_height, panel.h)
        return tuple(placed)
