"""The workflow language's steps of a run, in one mixin for `flowkit.run.engine.Execution`.

Each feature lives in its own module, with its logic and its tests:
`rules` (trigger rules and conditions), `fanout` (foreach), `cache` (cached
results), `subflows` (sub-workflows). `Language` mixes them and holds their
per-run state, so the engine keeps only a few one-line hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .cache import Caching, ResultCache
from .fanout import FanOut, ItemKey
from .rules import Gate, Triggers
from .subflows import Subflows

if TYPE_CHECKING:
    import networkx as nx

    from ..model import Run

__all__ = ["ItemKey", "Language", "ResultCache"]


class Language(Triggers, FanOut, Caching, Subflows):
    """Trigger rules and conditions, foreach, caching and sub-workflows, mixed into a run's `Execution`."""

    if TYPE_CHECKING:
        graph: nx.DiGraph
        results: dict[str, Any]

    def start_language(self, cache: ResultCache | None, earlier: Run | None, use_cache: bool) -> None:
        """This run's state for the language: the trigger-rule gate, the foreach nodes running, the cache session.

        Args:
            cache: the workspace's cached results, if it keeps any.
            earlier: the run being resumed (its foreach items that succeeded are kept; its child runs resumed).
            use_cache: False bypasses the cache (``ws.run(..., cache=False)``).
        """
        self.earlier = earlier
        self.gate = Gate(self.graph, self.run.nodes, self.results)
        self.fanouts = {}
        self.cache = cache.session() if cache is not None and use_cache else None
