"""The registry: every saved object waflens ships, in the order an import should see them."""

from __future__ import annotations

from dashboards.saved_objects.content import DASHBOARDS
from dashboards.saved_objects.encode import dashboard, search, visualization
from dashboards.saved_objects.index_pattern import index_pattern
from dashboards.saved_objects.model import SavedSearch
from dashboards.saved_objects.objects import SavedObject
from dashboards.saved_objects.settings import DashboardSettings


def saved_objects(settings: DashboardSettings) -> tuple[SavedObject, ...]:
    """The index pattern, then saved searches, visualizations and dashboards, each once.

    What a dashboard references comes before it, so a reader of the bundle never meets a forward link.
    """
    searches: dict[str, SavedObject] = {}
    visualizations: dict[str, SavedObject] = {}
    for board in DASHBOARDS:
        for panel in board.panels:
            content = panel.content
            if isinstance(content, SavedSearch):
                searches.setdefault(content.id, search(content, settings))
            else:
                visualizations.setdefault(content.id, visualization(content, settings))
    return (
        index_pattern(settings),
        *searches.values(),
        *visualizations.values(),
        *(dashboard(board) for board in DASHBOARDS),
    )
