"""The engine's own cost: per-node overhead, parallel efficiency, cold start, and the price of a timeout.

Run: ``.venv/bin/python benchmarks/bench_engine.py [--repeats N]`` (about a minute).
Each comparison is measured side by side in this one run, alternating, and
reported as a ratio of medians:

1. per-node overhead on 1,000 no-op nodes — a chain, and 100 layers of 10
   where each node depends on all 10 of the layer before — each a whole
   ``ws.run`` (validated, credentials decrypted, run recorded at start, per
   node and at its end): µs per node with the default executor (goal ≤ 40
   chain, ≤ 60 layered), and how much of it is the store writing the run at
   its start and its end; the inline executor ÷ a plain loop over
   ``networkx.topological_sort`` passing upstream results (goal ≤ 8);
   layered ÷ chain (goal ≤ 1.5). For reference, the same plain loop doing
   only what each node of a run is promised (its start line handed to the
   OS before the call, its output captured and masked, its result checked
   as JSON and masked, its end line written), with flowkit's own pieces:
   the floor of any recorded run, whatever its scheduler;
2. parallel efficiency: 50 nodes (5 layers × 10, fully connected between
   layers) each sleeping 0.1 s: wall time ÷ the ideal 0.5 s (goal ≤ 1.1);
3. cold start: ``flowkit run`` of a 10-node workflow as a whole process ÷
   ``python -c "import networkx, tinydb, cryptography"`` (goal ≤ 2);
4. what a timeout costs: a no-op node with a timeout (run in a warm child
   process, killable) and without (in this process), per node, in
   milliseconds (goal ≤ 3 ms with a timeout).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
from benchkit import bench_workspace

import flowkit as fk
from flowkit.executors import call, capture
from flowkit.jsonvalue import dumps_checked
from flowkit.model import NodeRun
from flowkit.redaction import Redactor

TASKS = """
import time


def noop(credentials, params):
    return {"success": True, "message": "ok"}


def nap(credentials, params):
    time.sleep(params["seconds"])
    return {"success": True, "message": "slept"}
"""


def noop(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "message": "ok"}


def setup(root: Path) -> fk.Workspace:
    return bench_workspace(root, TASKS)


def layered(
    name: str,
    layers: int,
    width: int,
    task: str = "noop",
    params: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> fk.Workflow:
    """`layers` × `width` nodes, each depending on every node of the layer before."""
    wf = fk.Workflow(name)
    for layer in range(layers):
        for index in range(width):
            node = f"n{layer}_{index}"
            wf.add_node(node, integration="Bench", task=task, params=params or {}, timeout=timeout)
            if layer:
                for parent in range(width):
                    wf.graph.add_edge(f"n{layer - 1}_{parent}", node)  # acyclic by construction
    return wf


def plain_loop(graph: nx.DiGraph) -> None:
    """The anchor: a topological loop calling each task with its parents' results."""
    results: dict[str, Any] = {}
    credentials = {"token": "bench-secret-value"}
    for name in nx.topological_sort(graph):
        results[name] = noop(credentials, {parent: results[parent] for parent in graph.predecessors(name)})


def guarded_loop(graph: nx.DiGraph, events_path: Path) -> None:
    """The plain loop plus only what every node of a recorded run is promised (see the module docstring)."""
    results: dict[str, Any] = {}
    credentials = {"token": "bench-secret-value"}
    secrets = ("bench-secret-value",)
    redactor = Redactor.of(secrets)
    with open(events_path, "a", encoding="utf-8") as events, capture.capturing(redactor):
        for name in nx.topological_sort(graph):
            node = NodeRun(name, status="running", started_at=time.time())
            events.write(dumps_checked({"name": name, "status": "running", "started_at": node.started_at}) + "\n")
            events.flush()  # a killed run still shows this node started
            params = {parent: results[parent] for parent in graph.predecessors(name)}
            node.params = redactor(params)
            outcome = call.call_here("bench", "benchmark", "noop", credentials, params, secrets)
            results[name] = outcome["result"]
            node.result, node.status, node.attempts = redactor(outcome["result"]), "success", 1
            node.finished_at = time.time()
            events.write(dumps_checked(node.to_dict()) + "\n")


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def medians(cases: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Run every case `repeats` times, interleaved, and keep each one's median."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, case in cases.items():
            samples[name].append(timed(case))
    return {name: statistics.median(values) for name, values in samples.items()}


def run_ok(ws: fk.Workspace, wf: fk.Workflow, **options: Any) -> Callable[[], None]:
    def case() -> None:
        run = ws.run(wf, **options)
        assert run.status == "success", run.error

    return case


def line(label: str, value: float, unit: str, goal: str = "") -> None:
    print(f"  {label:<58} {value:>9.2f} {unit:<6} {goal}")


def overhead(ws: fk.Workspace, repeats: int) -> None:
    size = 1000
    chain, grid = layered("chain", size, 1), layered("layers", size // 10, 10)
    cases = {
        "threads chain": run_ok(ws, chain),
        "threads layered": run_ok(ws, grid),
        "inline chain": run_ok(ws, chain, executor="inline"),
        "inline layered": run_ok(ws, grid, executor="inline"),
        "plain chain": lambda: plain_loop(chain.graph),
        "plain layered": lambda: plain_loop(grid.graph),
        "guarantees only, chain": lambda: guarded_loop(chain.graph, ws.path / "guarded.jsonl"),
    }
    call.remember("bench", "benchmark", {"noop": noop})
    got = {name: seconds / size * 1e6 for name, seconds in medians(cases, repeats).items()}
    print(f"1. per-node overhead, {size} no-op nodes, whole ws.run with the run recorded (µs per node, medians)")
    for name, micro in got.items():
        line(name, micro, "µs")
    line("default executor (threads), chain", got["threads chain"], "µs", "goal ≤ 40")
    line("default executor (threads), layered", got["threads layered"], "µs", "goal ≤ 60")
    line("inline ÷ plain loop, chain", got["inline chain"] / got["plain chain"], "×", "goal ≤ 8")
    line("inline ÷ plain loop, layered", got["inline layered"] / got["plain layered"], "×", "goal ≤ 8")
    line("layered ÷ chain, threads", got["threads layered"] / got["threads chain"], "×", "goal ≤ 1.5")
    line("layered ÷ chain, inline", got["inline layered"] / got["inline chain"], "×", "goal ≤ 1.5")
    floor = got["guarantees only, chain"]
    line("guarantees-only loop ÷ plain loop, chain (a floor)", floor / got["plain chain"], "×")
    line("inline ÷ guarantees-only loop, chain (the engine's share)", got["inline chain"] / floor, "×")
    # Where the time goes: the store writes the record at the start (snapshot included) and a line at the end.
    for label, wf in (("chain", chain), ("layered", grid)):
        recorded = medians({"record": lambda wf=wf: recording(ws, wf)}, repeats)["record"]
        line(f"of which recording the run at its start and end, {label}", recorded / size * 1e6, "µs")
    templated = fk.Workflow("templated")
    for index in range(size):
        params = {"previous": f"{{{{ n{index - 1}.message }}}}"} if index else {}
        templated.add_node(f"n{index}", integration="Bench", task="noop", params=params)
        if index:
            templated.graph.add_edge(f"n{index - 1}", f"n{index}")
    extra = medians(
        {"templated": run_ok(ws, templated, executor="inline"), "inline chain": run_ok(ws, chain, executor="inline")},
        repeats,
    )
    line("for reference: inline chain where each node reads its parent's", extra["templated"] / size * 1e6, "µs")
    line(
        "  result through a template ({{ n1.message }})",
        extra["templated"] / extra["inline chain"],
        "×",
        "of the plain inline chain",
    )


def recording(ws: fk.Workspace, wf: fk.Workflow) -> None:
    """What the engine asks of the run log for a run of `wf`, besides the node lines: its start and its end."""
    run = fk.Run(wf.name, snapshot=wf.to_dict())
    nodes = {name: {"name": name, "status": "pending"} for name in wf.graph}
    ws.store.runs.save({**run.header(), "snapshot": run.snapshot, "nodes": nodes}, run.summary(), checked=True)
    run.status, run.finished_at = "success", time.time()
    ws.store.runs.end(run.id, run.header(), run.summary())


def parallel(ws: fk.Workspace, repeats: int) -> None:
    wf = layered("parallel", 5, 10, task="nap", params={"seconds": 0.1})
    wall = medians({"parallel": run_ok(ws, wf)}, repeats)["parallel"]
    print("2. parallel efficiency: 5 layers × 10 nodes sleeping 0.1 s, default executor")
    line("wall time", wall, "s")
    line("wall ÷ ideal 0.5 s", wall / 0.5, "×", "goal ≤ 1.1")


def cold_start(ws: fk.Workspace, repeats: int) -> None:
    ws.workflows.save(layered("ten", 10, 1))
    env = {**os.environ, "FLOWKIT_WORKSPACE": str(ws.path)}
    flowkit_run = [sys.executable, "-m", "flowkit.cli", "run", "ten", "--no-progress"]
    baseline = [sys.executable, "-c", "import networkx, tinydb, cryptography"]

    def process(argv: list[str]) -> Callable[[], None]:
        def case() -> None:
            subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)

        return case

    got = medians({"flowkit run": process(flowkit_run), "imports": process(baseline)}, repeats)
    print("3. cold start: a whole process")
    line("flowkit run of a 10-node workflow", got["flowkit run"], "s")
    line('python -c "import networkx, tinydb, cryptography"', got["imports"], "s")
    line("flowkit run ÷ imports", got["flowkit run"] / got["imports"], "×", "goal ≤ 2")


def timeouts(ws: fk.Workspace, repeats: int) -> None:
    size = 20
    plain, limited = layered("plain", 1, size), layered("limited", 1, size, timeout=30)
    ws.run(limited, executor="inline")  # the fork server starts once per process (reported below)
    got = medians(
        {"with timeout": run_ok(ws, limited, executor="inline"), "without": run_ok(ws, plain, executor="inline")},
        repeats,
    )
    print(f"4. the price of a timeout: {size} independent no-op nodes, inline (one at a time)")
    line("per node with a timeout (a warm child process)", got["with timeout"] / size * 1e3, "ms", "goal ≤ 3")
    line("per node without (this process)", got["without"] / size * 1e3, "ms")
    line("what the timeout adds per call", (got["with timeout"] - got["without"]) / size * 1e3, "ms")
    line("with ÷ without", got["with timeout"] / got["without"], "×")


def server_start() -> float:
    """Seconds to start the fork server (once per process), measured in a fresh interpreter."""
    code = (
        "import time, flowkit.executors.timeouts as c; t = time.perf_counter(); c.ensure_server(); "
        "print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("FLOWKIT_CONFIG_DIR", str(Path(folder) / "config"))
        ws = setup(Path(folder))
        print(
            f"flowkit engine benchmark ({args.repeats} repeats, medians; {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f})"
        )
        overhead(ws, args.repeats)
        parallel(ws, args.repeats)
        cold_start(ws, args.repeats)
        timeouts(ws, args.repeats)
        line("starting the fork server, once per process", server_start(), "s")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
