"""Draw a workflow or a run as SVG: layered left to right, coloured by status.

The layout is computed, not delegated: graphviz binaries are not available
here and no small pure-Python library lays out a DAG better than the classic
recipe, which networkx gives most of:

1. ``layer``: each node's column is its topological generation, so every
   edge points right.
2. ``order``: within a column, nodes are sorted by the mean row of their
   neighbours in the previous column, then in the next one (two barycentre
   sweeps), which removes most edge crossings in the workflows people draw.
3. ``render``: boxes, Bézier edges with arrow heads and the legend are
   written as SVG text. Every piece of user text (node names, integration and
   task names) is XML-escaped, so a name cannot inject markup.

A 200-node workflow draws in a few milliseconds (see
``benchmarks/bench_drawing.py``). Large drawings keep their natural size and
scroll inside a box (`to_html`) rather than shrinking until unreadable.

Drawing sits below the model: it reads workflows and runs through the small
`Drawable*` protocols below and imports nothing of flowkit's, so the model can
draw itself (``Workflow._repr_mimebundle_``) without an import cycle.
"""

from __future__ import annotations

import html
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import networkx as nx


class DrawableNode(Protocol):
    """What a box shows of a node."""

    integration: str
    task: str


class DrawableWorkflow(Protocol):
    """What `render` reads of a workflow (`flowkit.Workflow` is one)."""

    name: str
    graph: nx.DiGraph

    def node(self, name: str) -> DrawableNode: ...


class DrawableNodeRun(Protocol):
    status: str


def marks(node: object, node_run: object | None = None) -> tuple[tuple[str, str], ...]:
    """The workflow-language marks a box carries, as ``(kind, text)``: read with getattr, all optional.

    ``condition`` (a ``when``), ``trigger`` (a rule other than all_success),
    ``allow_failure``, ``foreach`` (``n/m`` items done in a run), ``workflow``
    (a sub-workflow node), ``cache`` (a cached node; ``cached`` when a run's
    result came from the cache).
    """
    found: list[tuple[str, str]] = []
    if getattr(node, "when", None):
        found.append(("condition", "◆ if"))
    trigger = getattr(node, "trigger", "all_success")
    if trigger != "all_success":
        found.append(("trigger", f"⚑ {trigger}"))
    if getattr(node, "allow_failure", False):
        found.append(("allow_failure", "may fail"))
    items = getattr(node_run, "items", None)
    if items is not None:
        done = sum(1 for item in items if item.get("status") in ("success", "failed"))
        found.append(("foreach", f"∀ {done}/{len(items)}"))
    elif getattr(node, "foreach", None) is not None:
        found.append(("foreach", "∀ each"))
    workflow = getattr(node, "workflow", None)
    if workflow:
        found.append(("workflow", f"⧉ {workflow[:24]}"))
    if getattr(node_run, "cached_from", None):
        found.append(("cached", "⚡ cached"))
    elif getattr(node, "cache", False):
        found.append(("cache", "⚡ cache"))
    return tuple(found)


class DrawableRun(Protocol):
    """What `draw_run` reads of a run (`flowkit.Run` is one)."""

    @property
    def workflow(self) -> str: ...
    @property
    def nodes(self) -> Mapping[str, Any]: ...
    @property
    def snapshot(self) -> Mapping[str, Any]: ...

    def workflow_snapshot(self) -> DrawableWorkflow: ...


@dataclass
class _UnknownNode:
    integration: str = "?"
    task: str = "unknown"


class _Unconnected:
    """A run's nodes without its snapshot: shown as boxes with no edges."""

    def __init__(self, name: str, nodes: list[str]) -> None:
        self.name = name
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(nodes)

    def node(self, name: str) -> DrawableNode:
        return _UnknownNode()


STATUS_COLOURS: dict[str, str] = {
    "pending": "#9e9e9e",
    "running": "#1e88e5",
    "success": "#43a047",
    "failed": "#e53935",
    "skipped": "#e0e0e0",
    "cancelled": "#fb8c00",
}
# Dark text on the light fills, white on the strong ones (contrast ≥ 4.5 either way).
_TEXT_COLOURS = {"pending": "#212121", "skipped": "#616161", "cancelled": "#212121"}

BOX_WIDTH = 190
BOX_HEIGHT = 46
COLUMN_GAP = 70
ROW_GAP = 18
MARGIN = 16
LEGEND_HEIGHT = 30
MAX_LABEL = 26
SCROLL_HEIGHT = 520
ARROW = 8


@dataclass(frozen=True)
class Box:
    """Where a node is drawn and what it says."""

    name: str
    subtitle: str
    x: float
    y: float
    marks: tuple[tuple[str, str], ...] = ()


def _esc(text: object) -> str:
    # quote=True also escapes " and ', so the same helper is safe in attributes.
    return html.escape(str(text), quote=True)


def _clip(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- 1. layer ----------------------------------------------------------------------
def layer(graph: nx.DiGraph) -> list[list[str]]:
    """The columns: node names grouped by topological generation, in insertion order."""
    rank = {name: index for index, name in enumerate(graph.nodes)}
    return [sorted(generation, key=rank.__getitem__) for generation in nx.topological_generations(graph)]


# -- 2. order ----------------------------------------------------------------------
def _barycentre_sort(column: list[str], neighbours: Mapping[str, list[str]], row: dict[str, float]) -> list[str]:
    def key(item: tuple[int, str]) -> tuple[float, int]:
        index, name = item
        linked = [row[other] for other in neighbours[name] if other in row]
        return (sum(linked) / len(linked) if linked else float(index), index)

    return [name for _, name in sorted(enumerate(column), key=key)]


def order(graph: nx.DiGraph, columns: list[list[str]]) -> list[list[str]]:
    """Reorder each column so edges cross less (a forward then a backward barycentre sweep)."""
    preds = {name: list(graph.predecessors(name)) for name in graph}
    succs = {name: list(graph.successors(name)) for name in graph}
    columns = [list(column) for column in columns]
    row = {name: float(i) for column in columns for i, name in enumerate(column)}
    for index in range(1, len(columns)):
        columns[index] = _barycentre_sort(columns[index], preds, row)
        row.update({name: float(i) for i, name in enumerate(columns[index])})
    for index in range(len(columns) - 2, -1, -1):
        columns[index] = _barycentre_sort(columns[index], succs, row)
        row.update({name: float(i) for i, name in enumerate(columns[index])})
    return columns


def place(workflow: DrawableWorkflow, runs: Mapping[str, Any] | None = None) -> dict[str, Box]:
    """Each node's box, columns left to right and each column centred vertically.

    Args:
        runs: node name → its record in a run, for the marks that change as it runs.
    """
    columns = order(workflow.graph, layer(workflow.graph))
    tallest = max((len(column) for column in columns), default=0)
    boxes: dict[str, Box] = {}
    for col, column in enumerate(columns):
        offset = (tallest - len(column)) * (BOX_HEIGHT + ROW_GAP) / 2
        for row, name in enumerate(column):
            node = workflow.node(name)
            boxes[name] = Box(
                name=name,
                subtitle=f"runs · {child}"
                if (child := getattr(node, "workflow", None))
                else f"{node.integration} · {node.task}",
                x=MARGIN + col * (BOX_WIDTH + COLUMN_GAP),
                y=MARGIN + offset + row * (BOX_HEIGHT + ROW_GAP),
                marks=marks(node, (runs or {}).get(name)),
            )
    return boxes


# -- 3. render ---------------------------------------------------------------------
def _lane(source: Box, target: Box, xs: list[float], columns: list[list[float]]) -> float | None:
    """The height at which an edge passes the columns it skips, or None when a curve clears them.

    An edge from column 1 to column 3 drawn as one curve runs through the
    boxes of column 2 (read→combine looked like read→fetch2). When a box of a
    skipped column lies across the curve's height range, the edge goes round:
    through the gap above or below every box it passes, whichever is nearer.
    `xs` are the columns' x, sorted, and `columns` their boxes' sorted y, so an
    edge costs binary searches over the columns it skips, not a scan of every box.
    """
    low, high = sorted((source.y + BOX_HEIGHT / 2, target.y + BOX_HEIGHT / 2))
    skipped = columns[bisect_right(xs, source.x) : bisect_left(xs, target.x)]
    # A box at y overlaps [low, high] (with half a gap around it) when y <= high + g and y >= low - H - g.
    first_over = low - BOX_HEIGHT - ROW_GAP / 2
    if not any(bisect_left(ys, first_over) < bisect_right(ys, high + ROW_GAP / 2) for ys in skipped):
        return None
    above = min(ys[0] for ys in skipped) - ROW_GAP / 2
    below = max(ys[-1] for ys in skipped) + BOX_HEIGHT + ROW_GAP / 2
    middle = (low + high) / 2
    return above if abs(middle - above) <= abs(below - middle) else below


def _edge(source: Box, target: Box, lane: float | None = None) -> str:
    # The arrow head is part of the edge's own path, not an SVG <marker>: a marker is found by
    # document-wide id, and with several drawings on a page (the App's tabs) Chrome draws none
    # when the first drawing holding that id is in a hidden tab. It also gives a straight edge a
    # non-zero bounding box, which is what browsers (and browser tests) call visible.
    x1, y1 = source.x + BOX_WIDTH, source.y + BOX_HEIGHT / 2
    x2, y2 = target.x - 1, target.y + BOX_HEIGHT / 2
    head = f"M{x2 - ARROW:.0f},{y2 - ARROW / 2:.0f} L{x2:.0f},{y2:.0f} L{x2 - ARROW:.0f},{y2 + ARROW / 2:.0f}"
    if lane is None:
        bend = max((x2 - x1) / 2, 20)
        line = f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    else:  # out into the gap, along the lane past the skipped columns, back in
        g1, g2 = x1 + COLUMN_GAP / 2, x2 - COLUMN_GAP / 2
        line = (
            f"M{x1:.0f},{y1:.0f} L{g1:.0f},{y1:.0f} L{g1:.0f},{lane:.0f} L{g2:.0f},{lane:.0f} "
            f"L{g2:.0f},{y2:.0f} L{x2:.0f},{y2:.0f}"
        )
    return (
        f'<path class="flowkit-edge" data-from="{_esc(source.name)}" data-to="{_esc(target.name)}" '
        f'd="{line} {head}" '
        'fill="none" stroke="#757575" stroke-width="1.4" stroke-linejoin="round"/>'
    )


def _node(box: Box, status: str) -> str:
    fill = STATUS_COLOURS.get(status, STATUS_COLOURS["pending"])
    ink = _TEXT_COLOURS.get(status, "#ffffff")
    cx = box.x + BOX_WIDTH / 2
    shown = "".join(
        f'<tspan class="flowkit-mark" data-mark="{_esc(kind)}" dx="{6 if index else 0}">{_esc(text)}</tspan>'
        for index, (kind, text) in enumerate(box.marks)
    )
    mark_line = (
        f'<text class="flowkit-marks" x="{box.x + 4:.0f}" y="{box.y - 3:.0f}" font-size="10" fill="#424242">'
        f"{shown}</text>"
        if box.marks
        else ""
    )
    noted = "".join(f"; {text}" for _, text in box.marks)
    return (
        f'<g class="flowkit-node" data-node="{_esc(box.name)}" data-status="{_esc(status)}">'
        f"<title>{_esc(box.name)}: {_esc(box.subtitle)} ({_esc(status)}{_esc(noted)})</title>{mark_line}"
        f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" '
        f'fill="{fill}" stroke="#424242" stroke-width="0.8"/>'
        f'<text x="{cx:.0f}" y="{box.y + 19:.0f}" fill="{ink}" font-weight="bold" '
        f'text-anchor="middle">{_esc(_clip(box.name))}</text>'
        f'<text x="{cx:.0f}" y="{box.y + 36:.0f}" fill="{ink}" font-size="11" '
        f'text-anchor="middle">{_esc(_clip(box.subtitle, MAX_LABEL + 4))}</text>'
        "</g>"
    )


def _legend(y: float) -> str:
    items = []
    for index, (status, colour) in enumerate(STATUS_COLOURS.items()):
        x = MARGIN + index * 95
        items.append(
            f'<g class="flowkit-legend-item" data-status="{status}">'
            f'<rect x="{x}" y="{y:.0f}" width="14" height="14" rx="3" fill="{colour}" stroke="#424242" '
            f'stroke-width="0.6"/><text x="{x + 19}" y="{y + 11:.0f}" font-size="12">{status}</text></g>'
        )
    return f'<g class="flowkit-legend">{"".join(items)}</g>'


def render(
    workflow: DrawableWorkflow,
    statuses: Mapping[str, str] | None = None,
    *,
    legend: bool | None = None,
    runs: Mapping[str, Any] | None = None,
) -> str:
    """The workflow as an SVG document.

    Args:
        workflow: what to draw.
        statuses: node name → status; nodes not listed are ``pending``.
        legend: draw the status legend; by default only when `statuses` is given.
        runs: node name → its run record, for marks such as a foreach's ``n/m``.
    """
    show_legend = statuses is not None if legend is None else legend
    statuses = statuses or {}
    boxes = place(workflow, runs)
    if boxes:
        width = max(box.x for box in boxes.values()) + BOX_WIDTH + MARGIN
        height = max(box.y for box in boxes.values()) + BOX_HEIGHT + MARGIN
    else:
        width, height = 2 * MARGIN + BOX_WIDTH, 2 * MARGIN + 20
    if show_legend:
        width = max(width, 2 * MARGIN + 95 * len(STATUS_COLOURS))
        height += LEGEND_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flowkit-dag" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="13" '
        f'data-workflow="{_esc(workflow.name)}">',
        f"<title>{_esc(workflow.name)}</title>",
    ]
    if not boxes:
        parts.append(f'<text x="{MARGIN}" y="{MARGIN + 14}" fill="#757575">(no nodes yet)</text>')
    step = BOX_WIDTH + COLUMN_GAP
    by_x: dict[float, list[float]] = {}
    for box in boxes.values():
        by_x.setdefault(box.x, []).append(box.y)
    xs = sorted(by_x)
    columns = [sorted(by_x[x]) for x in xs]
    for a, b in workflow.graph.edges:
        source, target = boxes[a], boxes[b]
        skips = target.x - source.x > step + 1  # only an edge skipping a column can run through a box
        parts.append(_edge(source, target, _lane(source, target, xs, columns) if skips else None))
    parts.extend(_node(box, statuses.get(name, "pending")) for name, box in boxes.items())
    if show_legend:
        parts.append(_legend(height - LEGEND_HEIGHT + 8))
    parts.append("</svg>")
    return "".join(parts)


def to_html(svg: str, *, max_height: int = SCROLL_HEIGHT) -> str:
    """Wrap an SVG so a large drawing scrolls at its natural, readable size."""
    return f'<div class="flowkit-dag-scroll" style="overflow:auto;max-width:100%;max-height:{max_height}px">{svg}</div>'


def run_statuses(run: DrawableRun) -> dict[str, str]:
    """Node name → status of a run."""
    return {name: node.status for name, node in run.nodes.items()}


def draw_workflow(workflow: DrawableWorkflow) -> str:
    """SVG of a workflow, every node in the neutral colour."""
    return render(workflow)


def draw_run(run: DrawableRun) -> str:
    """SVG of a run's workflow snapshot, nodes coloured by their status, with the legend."""
    if run.snapshot:
        workflow = run.workflow_snapshot()
    else:  # a record without its snapshot still shows its nodes, unconnected
        workflow = _Unconnected(run.workflow or "run", list(run.nodes))
    return render(workflow, run_statuses(run), runs=run.nodes)


def mimebundle(svg: str, text: str) -> dict[str, str]:
    """What Jupyter displays: scrollable HTML, the bare SVG for other front ends, and text."""
    return {"text/html": to_html(svg), "image/svg+xml": svg, "text/plain": text}
