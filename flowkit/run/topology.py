"""A workflow's shape as the engine walks it: dependency order and children.

Built once per run from validation's single pass over the edges
(`flowkit.run.validation.dependency_order`), so the engine's per-node work
reads plain lists and dicts and never asks networkx (a view call costs
microseconds, a thousand nodes make it milliseconds).
"""

from __future__ import annotations


class Topology:
    """Each node's children, and every node in dependency order."""

    def __init__(self, children: dict[str, list[str]], order: list[str]) -> None:
        self.children = children
        self.order = order
