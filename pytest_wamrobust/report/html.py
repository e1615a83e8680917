"""A self-contained HTML page: the heatmap embedded as a data URI, then the tables.

One file a CI job can upload and anyone can open offline; no scripts, no external CSS.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from pytest_wamrobust.report.tables import Table

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
p.note { color: #666; font-size: 0.85em; margin-top: -1em; }
table.provenance td { text-align: left; }
"""


def table_html(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>"
                   for row in table.rows)
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (f"<h3>{escape(table.title)}</h3>\n<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>{note}\n")


def page(title: str, tables: Sequence[Table], png: bytes | None = None,
         sources: Sequence[str] = (), provenance: Sequence[tuple[str, str]] = (),
         breaking_png: bytes | None = None,
         figures: Sequence[tuple[str, bytes]] = ()) -> str:
    """The page; `provenance` rows (what, value) - date, versions, command - end it.
    `figures` (alt text, PNG) - the history's trend, the breakdown heatmaps - come first."""
    image = "".join(
        f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">\n'
        for alt, data in (*figures, ("success heatmap", png),
                          ("breaking-point heatmap", breaking_png))
        if data)
    listed = "".join(f"<li><code>{escape(s)}</code></li>" for s in sources)
    made = "".join(f"<tr><th>{escape(what)}</th><td><code>{escape(value)}</code></td></tr>"
                   for what, value in provenance)
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{image}"
        + "".join(table_html(t) for t in tables)
        + (f"<h3>Sources</h3><ul>{listed}</ul>\n" if listed else "")
        + (f"<h3>Provenance</h3><table class=\"provenance\"><tbody>{made}</tbody></table>\n"
           if made else "")
        + "</body></html>\n"
    )
