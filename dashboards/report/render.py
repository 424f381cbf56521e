"""The report as one self-contained HTML file: the page's own CSS and JS inline, the aggregates as JSON.

Nothing is fetched: no CDN, no fonts, no images, and a Content-Security-Policy that allows only the
page's own script and style (by hash) makes that a rule the browser enforces. Attacker-controlled values
(URIs, user agents, web ACL names) reach the page only inside the JSON script element, escaped so they
can never close it, and the script inserts them with ``textContent``.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources
from typing import Any, Final

import orjson

_PACKAGE: Final = "dashboards.report"
# Inside <script type="application/json"> only "</script" (and "<!--") could end or confuse the element;
# escaping every <, > and & rules both out, and U+2028/U+2029 keep the text valid JavaScript too.
_JSON_ESCAPES: Final = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _asset(name: str) -> str:
    return resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def script_json(value: Any) -> str:
    """``value`` as JSON safe to place verbatim inside ``<script type="application/json">``."""
    return orjson.dumps(value).decode().translate(_JSON_ESCAPES)


def _csp_hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"sha256-{digest}"


def render(data: dict[str, Any]) -> str:
    """The whole page for ``data`` (``dashboards.report.aggregate.report_data``)."""
    style, script = _asset("page.css"), _asset("page.js")
    page = _asset("page.html")
    # The data goes in last, so a placeholder spelled inside it can never be substituted.
    for marker, value in (
        ("@SCRIPT_HASH@", _csp_hash(script)),
        ("@STYLE_HASH@", _csp_hash(style)),
        ("@STYLE@", style),
        ("@SCRIPT@", script),
    ):
        page = page.replace(marker, value, 1)
    before, marker, after = page.partition("@DATA@")
    assert marker, "page.html lost its @DATA@ placeholder"
    return before + script_json(data) + after
