"""The builder's drawing as a small custom widget: click a node to select it, drag from one node to another to connect.

Built with anywidget: the front end is the ES module below, shipped inline
(no frontend build, no network), and talks to Python through three synced
traits. The drawing itself is the same SVG as everywhere else
(`flowkit.drawing`); the module only adds pointer handling on its
``g.flowkit-node`` groups:

* a click on a node sets ``selected`` to its name;
* a press on one node and a release on another sets ``connect_request`` to
  ``{"from": ..., "to": ..., "n": <a counter>}`` (the counter makes a second
  identical request a change too), while a dashed line follows the pointer.

The Python side (`WorkflowBuilder`) turns both into the builder's own
actions, so a cycle is refused exactly as the Connect button refuses it.
"""

from __future__ import annotations

import anywidget
import traitlets

ESM = r"""
function render({ model, el }) {
  let drag = null;
  const svgPoint = (svg, event) => {
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    return point.matrixTransform(svg.getScreenCTM().inverse());
  };
  const draw = () => {
    el.innerHTML = model.get("value");
    const svg = el.querySelector("svg.flowkit-dag");
    if (!svg) return;
    const selected = model.get("selected");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
    line.setAttribute("class", "flowkit-drag-line");
    line.setAttribute("stroke", "#1565c0");
    line.setAttribute("stroke-width", "2");
    line.setAttribute("stroke-dasharray", "5,4");
    line.style.display = "none";
    line.style.pointerEvents = "none"; // the release must land on the node under the pointer, not on this line
    svg.appendChild(line);
    svg.querySelectorAll("g.flowkit-node").forEach((group) => {
      const name = group.getAttribute("data-node");
      const rect = group.querySelector("rect");
      group.style.cursor = "pointer";
      if (name === selected) {
        group.classList.add("flowkit-selected");
        rect.setAttribute("stroke", "#1565c0");
        rect.setAttribute("stroke-width", "3");
      }
      group.addEventListener("mousedown", (event) => {
        event.preventDefault();
        const x = Number(rect.getAttribute("x")) + Number(rect.getAttribute("width"));
        const y = Number(rect.getAttribute("y")) + Number(rect.getAttribute("height")) / 2;
        drag = { from: name, x, y };
      });
      group.addEventListener("mouseup", (event) => {
        if (drag === null) return;
        const from = drag.from;
        drag = null;
        line.style.display = "none";
        if (from === name) {
          model.set("selected", name);
        } else {
          const n = (model.get("connect_request").n || 0) + 1;
          model.set("connect_request", { from, to: name, n });
        }
        model.save_changes();
      });
    });
    svg.addEventListener("mousemove", (event) => {
      if (drag === null) return;
      const point = svgPoint(svg, event);
      line.setAttribute("x1", drag.x);
      line.setAttribute("y1", drag.y);
      line.setAttribute("x2", point.x);
      line.setAttribute("y2", point.y);
      line.style.display = "";
    });
    svg.addEventListener("mouseleave", () => {
      drag = null;
      line.style.display = "none";
    });
  };
  model.on("change:value", draw);
  model.on("change:selected", draw);
  draw();
  return () => {
    model.off("change:value", draw);
    model.off("change:selected", draw);
  };
}
export default { render };
"""


class DagCanvas(anywidget.AnyWidget):
    """The drawn DAG, clickable and draggable (see the module docstring).

    Attributes:
        value: the drawing's HTML (`flowkit.drawing.to_html`), as an HTML widget's ``value``.
        selected: the node last clicked ("" for none).
        connect_request: the last drag from one node to another.
    """

    _esm = ESM
    value = traitlets.Unicode("").tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    connect_request = traitlets.Dict().tag(sync=True)
