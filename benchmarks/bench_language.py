"""The workflow language's costs: a foreach item against a node, a cache hit against the call it replaces.

Run: ``.venv/bin/python benchmarks/bench_language.py [--repeats N]``. Each
comparison is measured side by side in this one run, alternating, and reported
as a ratio of medians:

1. fan-out: one foreach node over 1,000 no-op items ÷ 1,000 separate no-op
   nodes, per item / per node, each a whole ``ws.run`` on the default executor
   (threads). The like-for-like is 1,000 *independent* nodes (one layer: every
   call can run at once, as items can; goal ≤ 1.5); a 1,000-node chain, the
   engine's cheapest path (each call made on the driver), is shown for reference;
2. caching: a cache hit ÷ the no-op call it replaces —
   a. the call itself: looking up the cached result (key over the rendered
      params, then the entry) ÷ ``invoke.call_task`` of a no-op task (what a
      miss runs); goal ≤ 0.5;
   b. whole runs, per node: a 1,000-node chain served from the cache ÷ the same
      chain called, both inline — what the hit saves once the run's own
      bookkeeping (record, events) is counted.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bench_engine import layered, line, medians, run_ok, setup

import flowkit as fk
from flowkit.executors import call, invoke


def fan_out(ws: fk.Workspace, repeats: int) -> None:
    size = 1000
    items = fk.Workflow("items")
    items.add_node("each", integration="Bench", task="noop", foreach=list(range(size)), params={"i": "{{ item }}"})
    wide, chain = layered("wide", 1, size), layered("chain", size, 1)
    got = medians({"foreach": run_ok(ws, items), "wide": run_ok(ws, wide), "chain": run_ok(ws, chain)}, repeats)
    per = {name: seconds / size * 1e6 for name, seconds in got.items()}
    print(f"1. fan-out: {size} no-op items in one foreach node vs {size} separate nodes (threads, µs each)")
    line("foreach, per item", per["foreach"], "µs")
    line("separate independent nodes (one layer), per node", per["wide"], "µs")
    line("separate nodes in a chain, per node", per["chain"], "µs")
    line("foreach item ÷ independent node", per["foreach"] / per["wide"], "×", "goal ≤ 1.5")
    line("foreach item ÷ chained node (for reference)", per["foreach"] / per["chain"], "×")


def caching(ws: fk.Workspace, repeats: int) -> None:
    from flowkit.run.cache import call_key

    module = ws.registry.module("bench")
    call.remember("bench", module.location, {name: spec.func for name, spec in module.tasks.items()})
    integration = ws.integrations.get("Bench")
    credentials = integration.credentials.reveal()
    params: dict[str, Any] = {"path": "/tmp/report.csv", "limit": 10}
    session = ws.cache.session()
    key = call_key(module="bench", source="", task="noop", integration="Bench", version=None, params=params)
    session.put(key, {"success": True, "message": "ok"}, run_id="bench", node="n", ttl=None)
    loops = 2000

    def lookups() -> None:
        for _ in range(loops):
            found = call_key(
                module="bench",
                source=session.source(module.location),
                task="noop",
                integration="Bench",
                version=integration.version,
                params=params,
            )
            session.get(found)

    def calls() -> None:
        for _ in range(loops):
            invoke.call_task("bench", module.location, "noop", credentials, params)

    got = medians({"hit": lookups, "call": calls}, repeats)
    print("2. caching: a cache hit vs the no-op call it replaces")
    line("a. cache lookup (key + entry), per hit", got["hit"] / loops * 1e6, "µs")
    line("   invoke.call_task of a no-op task, per call", got["call"] / loops * 1e6, "µs")
    line("   hit ÷ call", got["hit"] / got["call"], "×", "goal ≤ 0.5")
    size = 1000
    cached, plain = fk.Workflow("cached"), layered("plain", size, 1)
    for index in range(size):
        cached.add_node(f"n{index}", integration="Bench", task="noop", cache=True, params={"i": index})
        if index:
            cached.graph.add_edge(f"n{index - 1}", f"n{index}")
    ws.run(cached, executor="inline")  # fill the cache
    runs = medians(
        {"hits": run_ok(ws, cached, executor="inline"), "calls": run_ok(ws, plain, executor="inline")}, repeats
    )
    line(f"b. whole run, {size}-node chain from the cache, per node", runs["hits"] / size * 1e6, "µs")
    line(f"   whole run, {size}-node chain called, per node", runs["calls"] / size * 1e6, "µs")
    line("   cached run ÷ called run", runs["hits"] / runs["calls"], "×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ws = setup(Path(folder))
        fan_out(ws, args.repeats)
        caching(ws, args.repeats)


if __name__ == "__main__":
    main()
