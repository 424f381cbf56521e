"""``waflens report``: aggregates of a lake computed in Polars (``aggregate``), rendered as one
self-contained HTML page (``render``)."""
