"""The SVG drawing: structure (nodes, edges, colours, legend), escaping, size, inline reprs."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET

import flowkit as fk
from flowkit import drawing
from flowkit.model import NodeRun, Run

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on malformed XML, so every test also checks well-formedness


def nodes_of(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-node"): g for g in root.iter(f"{SVG}g") if g.get("class") == "flowkit-node"}


def edges_of(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}path") if p.get("class") == "flowkit-edge"]


def diamond() -> fk.Workflow:
    wf = fk.Workflow("Diamond")
    for name in ("fetch", "left", "right", "merge"):
        wf.add_node(name, integration="My HTTP", task="get")
    wf.connect("fetch", "left")
    wf.connect("fetch", "right")
    wf.connect("left", "merge")
    wf.connect("right", "merge")
    return wf


def chain(count: int) -> fk.Workflow:
    wf = fk.Workflow(f"Chain {count}")
    for index in range(count):
        wf.add_node(f"n{index}", integration="Files", task="copy")
        if index:
            wf.connect(f"n{index - 1}", f"n{index}")
    return wf


def box_x(group: ET.Element) -> float:
    return float(group.find(f"{SVG}rect").get("x"))


def box_y(group: ET.Element) -> float:
    return float(group.find(f"{SVG}rect").get("y"))


def test_every_node_is_a_box_labelled_with_name_and_integration_task() -> None:
    root = parse(drawing.render(diamond()))
    nodes = nodes_of(root)
    assert set(nodes) == {"fetch", "left", "right", "merge"}
    texts = [t.text for t in nodes["left"].iter(f"{SVG}text")]
    assert texts == ["left", "My HTTP · get"]
    assert root.get("class") == "flowkit-dag"


def test_every_edge_is_drawn_left_to_right_with_an_arrow() -> None:
    root = parse(drawing.render(diamond()))
    nodes = nodes_of(root)
    edges = edges_of(root)
    assert sorted((e.get("data-from"), e.get("data-to")) for e in edges) == [
        ("fetch", "left"),
        ("fetch", "right"),
        ("left", "merge"),
        ("right", "merge"),
    ]
    for edge in edges:
        curve, head = edge.get("d").split(" M")
        start_x = float(re.match(r"M([\d.]+),", curve).group(1))
        end_x, end_y = (float(v) for v in curve.split()[-1].split(","))
        assert start_x < end_x
        assert box_x(nodes[edge.get("data-from")]) < box_x(nodes[edge.get("data-to")])
        # The arrow head: a chevron whose tip is the curve's end, pointing right.
        points = [tuple(float(v) for v in p.lstrip("ML").split(",")) for p in head.split()]
        assert points[1] == (end_x, end_y) and points[0][0] < end_x and points[2][0] < end_x
        assert points[0][1] < end_y < points[2][1]
    assert root.find(f"{SVG}defs") is None  # no document-wide ids shared between drawings


def test_columns_are_topological_generations() -> None:
    nodes = nodes_of(parse(drawing.render(diamond())))
    xs = {name: box_x(group) for name, group in nodes.items()}
    assert xs["fetch"] < xs["left"] == xs["right"] < xs["merge"]


def test_columns_are_ordered_to_avoid_crossings() -> None:
    wf = fk.Workflow("Cross")
    for name in ("a", "b", "c", "d"):
        wf.add_node(name, integration="X", task="t")
    wf.connect("a", "d")
    wf.connect("b", "c")
    nodes = nodes_of(parse(drawing.render(wf)))
    assert box_y(nodes["a"]) < box_y(nodes["b"])
    assert box_y(nodes["d"]) < box_y(nodes["c"])  # inserted c first, drawn below d: no crossing


def test_statuses_colour_nodes_and_the_legend_lists_every_status() -> None:
    statuses = {"fetch": "success", "left": "failed", "right": "running", "merge": "skipped"}
    root = parse(drawing.render(diamond(), statuses))
    nodes = nodes_of(root)
    for name, status in statuses.items():
        assert nodes[name].get("data-status") == status
        assert nodes[name].find(f"{SVG}rect").get("fill") == drawing.STATUS_COLOURS[status]
    assert drawing.STATUS_COLOURS == {
        "pending": "#9e9e9e",
        "running": "#1e88e5",
        "success": "#43a047",
        "failed": "#e53935",
        "skipped": "#e0e0e0",
        "cancelled": "#fb8c00",
    }
    legend = [g for g in root.iter(f"{SVG}g") if g.get("class") == "flowkit-legend-item"]
    assert [g.get("data-status") for g in legend] == list(drawing.STATUS_COLOURS)
    assert [g.find(f"{SVG}rect").get("fill") for g in legend] == list(drawing.STATUS_COLOURS.values())


def test_a_plain_workflow_is_pending_grey_without_a_legend() -> None:
    root = parse(drawing.render(diamond()))
    assert {g.get("data-status") for g in nodes_of(root).values()} == {"pending"}
    assert not [g for g in root.iter(f"{SVG}g") if g.get("class") == "flowkit-legend"]


def test_user_text_cannot_inject_markup() -> None:
    wf = fk.Workflow('Evil "wf" <svg onload=alert(1)>')
    wf.add_node("n", integration='<script>alert("x")</script>', task="t")
    wf.add_node("m", integration="a' onclick='x", task="t")
    wf.connect("n", "m")
    svg = drawing.render(wf, {"n": "success"})
    root = parse(svg)
    assert "<script" not in svg and "<svg onload" not in svg
    assert not list(root.iter(f"{SVG}script"))
    subtitle = [t.text for t in nodes_of(root)["n"].iter(f"{SVG}text")][1]
    assert subtitle.startswith("<script>alert")  # shown as text, after unescaping by the parser
    assert root.get("data-workflow") == 'Evil "wf" <svg onload=alert(1)>'
    for element in root.iter():
        assert not any(attr.startswith("on") for attr in element.attrib)


def test_long_names_are_clipped_in_the_box_and_whole_in_the_tooltip() -> None:
    wf = fk.Workflow("Long")
    long_name = "a_very_long_node_name_that_does_not_fit_in_a_box"
    wf.add_node(long_name, integration="X", task="t")
    group = nodes_of(parse(drawing.render(wf)))[long_name]
    label = next(group.iter(f"{SVG}text")).text
    assert label.endswith("…") and len(label) == drawing.MAX_LABEL
    assert long_name in group.find(f"{SVG}title").text


def test_an_empty_workflow_draws_a_hint() -> None:
    root = parse(drawing.render(fk.Workflow("Empty")))
    assert "no nodes yet" in "".join(root.itertext())
    assert not nodes_of(root)


def test_a_hundred_nodes_keep_readable_boxes_and_scroll() -> None:
    wf = fk.Workflow("Wide")
    for index in range(100):
        wf.add_node(f"n{index}", integration="X", task="t")
        if index >= 10:
            wf.connect(f"n{index - 10}", f"n{index}")
    svg = drawing.render(wf)
    root = parse(svg)
    rects = [g.find(f"{SVG}rect") for g in nodes_of(root).values()]
    assert {float(r.get("width")) for r in rects} == {drawing.BOX_WIDTH}  # natural size, never shrunk
    assert float(root.get("width")) == float(root.get("viewBox").split()[2])
    assert len({(r.get("x"), r.get("y")) for r in rects}) == 100  # no two boxes on the same spot
    page = drawing.to_html(svg)
    assert "overflow:auto" in page and page.endswith("</svg></div>")


def test_two_hundred_nodes_draw_well_under_a_second() -> None:
    wf = chain(200)
    started = time.perf_counter()
    svg = drawing.render(wf)
    assert time.perf_counter() - started < 1.0  # a generous bound; the benchmark measures the real cost
    assert len(nodes_of(parse(svg))) == 200


def test_workflow_and_run_draw_themselves_inline() -> None:
    wf = diamond()
    bundle = wf._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml", "text/plain"}
    assert bundle["text/plain"] == repr(wf)
    assert len(nodes_of(parse(bundle["image/svg+xml"]))) == 4
    assert bundle["text/html"].startswith('<div class="flowkit-dag-scroll"')

    run = Run("Diamond", snapshot=wf.to_dict(), status="failed")
    run.nodes = {
        "fetch": NodeRun("fetch", status="success"),
        "left": NodeRun("left", status="failed"),
        "right": NodeRun("right", status="success"),
        "merge": NodeRun("merge", status="skipped"),
    }
    root = parse(run._repr_mimebundle_()["image/svg+xml"])
    assert {n: g.get("data-status") for n, g in nodes_of(root).items()} == drawing.run_statuses(run)
    assert [g for g in root.iter(f"{SVG}g") if g.get("class") == "flowkit-legend"]


def test_a_run_without_its_snapshot_still_shows_its_nodes() -> None:
    run = Run("Lost", status="failed")
    run.nodes = {"a": NodeRun("a", status="success"), "b": NodeRun("b", status="failed")}
    nodes = nodes_of(parse(drawing.draw_run(run)))
    assert {n: g.get("data-status") for n, g in nodes.items()} == {"a": "success", "b": "failed"}
