"""A run's nodes, one row widget each: status, timing, error, the result as a JSON tree, the log.

Each node has its own HTML widget, kept for the life of the table and
rewritten only when that node's record changes. So while a run goes on, a
person can open one node's log or result and it stays open as other nodes
finish; and a second run updates the rows in place instead of blanking the
view (no flicker). Logs and errors come from the run record, which the
engine has already masked; they are escaped and shown in monospace.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

import ipywidgets as w

from ..model import NodeRun, Run
from .common import hook

#: Items shown per level of a result's tree; the rest are counted (the whole is in ``flowkit runs show``).
TREE_ITEMS = 500
MONOSPACE = "font-family: var(--jp-code-font-family, monospace); font-size: 12px"
LOG_STYLE = f"{MONOSPACE}; white-space: pre-wrap; max-height: 24em; overflow: auto; margin: 2px 0"


def _scalar(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f'<code class="flowkit-json-value">{html.escape(text)}</code>'


def json_tree(value: Any, *, depth: int = 0) -> str:
    """A JSON value as nested ``<details>``: objects and lists fold, the first level open; nothing is cut."""
    if isinstance(value, dict):
        items: Iterable[tuple[str, Any]] = ((html.escape(str(key)), item) for key, item in value.items())
        label, size = "object", f"· {len(value)} key(s)"
    elif isinstance(value, (list, tuple)):
        items = ((str(index), item) for index, item in enumerate(value))
        label, size = "list", f"· {len(value)} item(s)"
    else:
        return _scalar(value)
    if not value:
        return _scalar(value)
    rows = []
    for count, (key, item) in enumerate(items):
        if count == TREE_ITEMS:
            rows.append(f"<li><i>… {len(value) - TREE_ITEMS} more (see flowkit runs show)</i></li>")
            break
        rows.append(f'<li><span class="flowkit-json-key">{key}</span>: {json_tree(item, depth=depth + 1)}</li>')
    opened = " open" if depth == 0 else ""
    return (
        f'<details class="flowkit-json"{opened}><summary>{label} {size}</summary>'
        f'<ul style="list-style: none; margin: 0; padding-left: 1.2em; {MONOSPACE}">{"".join(rows)}</ul></details>'
    )


def _lines(text: str) -> str:
    count = len(text.splitlines())
    return f"{count} line{'s' if count != 1 else ''}"


#: How many items of a foreach node a row lists (the failed ones first).
ITEMS_SHOWN = 50


def items_html(items: list[dict[str, Any]]) -> str:
    """A foreach node's items, folded: status, attempts, duration and error of each, failed first."""
    ordered = sorted(items, key=lambda item: (item.get("status") == "success", item.get("index", 0)))
    lines = []
    for item in ordered[:ITEMS_SHOWN]:
        duration = "" if item.get("duration") is None else f", {item['duration']:.2f} s"
        error = f": {item['error']}" if item.get("error") else ""
        cached = ", cached" if item.get("cached_from") else ""
        status = html.escape(str(item.get("status")))
        lines.append(
            f'<li class="flowkit-item" data-index="{item.get("index")}" data-status="{status}">'
            f"item {item.get('index')}: {status}{duration}{cached}{html.escape(error)}</li>"
        )
    more = f"<li>and {len(items) - ITEMS_SHOWN} more</li>" if len(items) > ITEMS_SHOWN else ""
    return (
        f'<details class="flowkit-node-items"><summary>{len(items)} item(s)</summary>'
        f"<ul>{''.join(lines)}{more}</ul></details>"
    )


def node_html(node: NodeRun, live: str | None = None) -> str:
    """One node's row: a head line, its error, its result tree and its log (open for a failure).

    `live` is what a running node has written so far (``node_output`` events): shown open.
    """
    name, status = html.escape(node.name, quote=True), html.escape(node.status)
    parts = [f"<b>{html.escape(node.name)}</b>", html.escape(node.label)]  # status, why skipped, items, cache
    if node.duration is not None and not node.reused:
        parts.append(f"{node.duration:.2f} s")
    if node.attempts > 1:
        parts.append(f"{node.attempts} attempts")
    body = [f'<div class="flowkit-node-head">{" · ".join(parts)}</div>']
    if node.error:
        body.append(f'<div class="flowkit-node-error" style="color: #cf222e">{html.escape(node.error)}</div>')
    if node.items:
        body.append(items_html(node.items))
    if node.result is not None:
        body.append(f'<details class="flowkit-node-result"><summary>Result</summary>{json_tree(node.result)}</details>')
    if node.log:
        opened = " open" if node.status == "failed" else ""
        what = "Log and traceback" if "Traceback (most recent call last)" in node.log else "Log"
        body.append(
            f'<details class="flowkit-node-log"{opened}><summary>{what} ({_lines(node.log)})</summary>'
            f'<pre class="flowkit-log" style="{LOG_STYLE}">{html.escape(node.log)}</pre></details>'
        )
    elif node.status == "running" and live:
        body.append(
            f'<details class="flowkit-node-log flowkit-node-log-live" open><summary>Log so far ({_lines(live)})'
            f'</summary><pre class="flowkit-log" style="{LOG_STYLE}">{html.escape(live)}</pre></details>'
        )
    return (
        f'<div class="flowkit-node-row" data-node="{name}" data-status="{status}" '
        f'style="border-top: 1px solid #ddd; padding: 2px 0">{"".join(body)}</div>'
    )


class NodeTable:
    """The per-node rows of a run (see the module docstring).

    Attributes:
        widget: the VBox to display.
        rows: node name -> its row's HTML widget.
    """

    def __init__(self) -> None:
        self.rows: dict[str, w.HTML] = {}
        self.widget = hook(w.VBox(), "flowkit-node-table")
        self._seen: dict[str, tuple[Any, ...]] = {}  # what each row was drawn from: redraw only on a change
        self.live: dict[str, str] = {}  # running nodes' output so far

    def update(self, run: Run, names: Iterable[str] | None = None) -> None:
        """Show `run`'s nodes (in the order of `names` when given); only rows whose record changed are rewritten."""
        order = [name for name in (names if names is not None else run.nodes) if name in run.nodes]
        for name in order:
            node = run.nodes[name]
            live = self.live.get(name) if node.status == "running" else None
            seen = (
                node.status,
                node.label,  # changes as a foreach's items end
                node.attempts,
                node.finished_at,
                node.reused,
                len(node.log),
                node.error,
                id(node),
                live,
            )
            if self._seen.get(name) == seen:
                continue
            self._seen[name] = seen
            text = node_html(node, live)
            row = self.rows.get(name)
            if row is None:
                self.rows[name] = hook(w.HTML(text), "flowkit-node-details")
            elif row.value != text:
                row.value = text
        children = [self.rows[name] for name in order]
        if list(self.widget.children) != children:
            self.widget.children = children

    @property
    def value(self) -> str:
        """Every shown row's HTML, joined (for tests and logs)."""
        return "".join(row.value for row in self.widget.children)
