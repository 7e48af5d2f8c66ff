"""A workflow's shape as the engine walks it: dependency order, children, parents to wait for.

Built once per run from validation's single pass over the edges
(`flowkit.run.validation.dependency_order`), so the engine's per-node work
reads plain lists and dicts and never asks networkx (a view call costs
microseconds, a thousand nodes make it milliseconds).
"""

from __future__ import annotations

from collections.abc import Collection


class Topology:
    """Each node's children, every node in dependency order, and each one's place in it."""

    def __init__(self, children: dict[str, list[str]], order: list[str]) -> None:
        self.children = children
        self.order = order
        self.position = {name: index for index, name in enumerate(order)}

    def waiting(self, scope: Collection[str], reused: Collection[str]) -> dict[str, int]:
        """How many parents each node to run waits for (a reused parent has its result already)."""
        counts = dict.fromkeys(self.children, 0)
        for name, children in self.children.items():
            if name not in reused:
                for child in children:
                    counts[child] += 1
        return {name: count for name, count in counts.items() if name in scope and name not in reused}

    def descendants(self, name: str) -> list[str]:
        """Every node downstream of `name`, in dependency order."""
        found: set[str] = set()
        stack = list(self.children[name])
        while stack:
            node = stack.pop()
            if node not in found:
                found.add(node)
                stack.extend(self.children[node])
        return sorted(found, key=self.position.__getitem__)
