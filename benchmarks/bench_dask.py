"""Dask executor: what a cluster of 2 processes gains on CPU-bound nodes, and what flowkit adds per node.

Run: ``.venv/bin/python benchmarks/bench_dask.py [--repeats N]``. One LocalCluster
(2 worker processes, 1 thread each) serves every measurement; each pair is run
alternately in this one process and compared by medians:

1. a 200-node layered DAG (10 layers of 20; each node waits for two nodes of
   the layer above) of CPU-bound pure-Python tasks of ~50 ms: wall time on the
   Dask cluster ÷ on the default thread executor (GIL-bound, so ~serial).
   Goal ≤ 0.6 on 2 cores.
2. per-node overhead: the same DAG of no-op tasks run by flowkit on the Dask
   cluster (validated, rendered, recorded, results back on the driver) ÷ the
   same no-op function submitted with Dask's own ``client.submit``, the DAG
   given to Dask as future dependencies, every result gathered. Goal ≤ 1.5.
3. for reference, the CPU DAG on flowkit-on-Dask ÷ raw ``client.submit``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchkit import bench_workspace

import flowkit as fk
from flowkit.executors import ThreadExecutor

LAYERS, WIDTH = 10, 20
TASKS = '''
def spin(credentials, params):
    """Burn CPU in pure Python for params["n"] steps (holds the GIL)."""
    total = 0
    for step in range(params["n"]):
        total += step * step % 7
    return {"success": True, "total": total}


def noop(credentials, params):
    """Do nothing."""
    return {"success": True}
'''


def spin(credentials: dict[str, Any], params: dict[str, Any], *upstream: Any) -> dict[str, Any]:
    """The integration's task, for raw Dask (upstream results are Dask's dependencies)."""
    total = 0
    for step in range(params["n"]):
        total += step * step % 7
    return {"success": True, "total": total}


def noop(credentials: dict[str, Any], params: dict[str, Any], *upstream: Any) -> dict[str, Any]:
    return {"success": True}


def parents(layer: int, index: int) -> list[tuple[int, int]]:
    return [] if layer == 0 else [(layer - 1, index), (layer - 1, (index + 1) % WIDTH)]


def layered(task: str, params: dict[str, Any]) -> fk.Workflow:
    wf = fk.Workflow(f"layered {task}")
    for layer in range(LAYERS):
        for index in range(WIDTH):
            wf.add_node(f"n{layer}_{index}", integration="Bench", task=task, params=params)
            for up_layer, up_index in parents(layer, index):
                wf.connect(f"n{up_layer}_{up_index}", f"n{layer}_{index}")
    return wf


def raw_dask(client: Any, fn: Callable[..., Any], params: dict[str, Any]) -> None:
    futures: dict[tuple[int, int], Any] = {}
    for layer in range(LAYERS):
        for index in range(WIDTH):
            upstream = [futures[parent] for parent in parents(layer, index)]
            futures[(layer, index)] = client.submit(fn, {"token": "x"}, params, *upstream, pure=False)
    client.gather(list(futures.values()))


def calibrate(seconds: float) -> int:
    """Steps of `spin` that take about `seconds` here."""
    steps = 200_000
    started = time.perf_counter()
    spin({}, {"n": steps})
    return max(1, int(steps * seconds / (time.perf_counter() - started)))


def setup(root: Path) -> fk.Workspace:
    return bench_workspace(root, TASKS)


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    elapsed = time.perf_counter() - started
    if isinstance(result, fk.Run) and result.status != "success":
        raise SystemExit(f"benchmark run failed: {result.error}")
    return elapsed


def main() -> None:
    import distributed

    from flowkit.executors.dask_executor import DaskExecutor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--task-ms", type=float, default=50.0)
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        ws = setup(Path(tmp))
        cpu_params = {"n": calibrate(args.task_ms / 1000)}
        cpu, idle = layered("spin", cpu_params), layered("noop", {})
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
        executor, threads = DaskExecutor(client), ThreadExecutor()
        try:
            ws.run(idle, executor=executor)  # warm-up: ship the module, load it on the workers
            raw_dask(client, noop, {})
            cpu_threads, cpu_dask, cpu_raw, idle_dask, idle_raw = [], [], [], [], []
            for _ in range(args.repeats):
                cpu_threads.append(timed(ws.run, cpu, executor=threads))
                cpu_dask.append(timed(ws.run, cpu, executor=executor))
                cpu_raw.append(timed(raw_dask, client, spin, cpu_params))
            for _ in range(args.repeats * 3):
                idle_dask.append(timed(ws.run, idle, executor=executor))
                idle_raw.append(timed(raw_dask, client, noop, {}))
        finally:
            executor.shutdown()
            threads.shutdown()
            client.close()
            cluster.close()
    nodes = LAYERS * WIDTH
    median = statistics.median
    # Other processes take cores from the 2 workers: the machine's load is part of the result.
    print(f"load average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    print(
        f"{nodes}-node layered DAG ({LAYERS} layers of {WIDTH}), {args.task_ms:.0f} ms CPU-bound tasks, "
        f"2 Dask worker processes; medians of {args.repeats} (overhead: {args.repeats * 3})"
    )
    print(f"  threads                 {median(cpu_threads):7.2f} s")
    print(f"  flowkit on Dask         {median(cpu_dask):7.2f} s")
    print(f"  raw Dask client.submit  {median(cpu_raw):7.2f} s")
    print(f"1. Dask ÷ threads (CPU-bound):              {median(cpu_dask) / median(cpu_threads):.2f}  (goal ≤ 0.6)")
    print(
        f"   per node: flowkit on Dask {median(idle_dask) / nodes * 1e3:.2f} ms, "
        f"raw client.submit {median(idle_raw) / nodes * 1e3:.2f} ms (no-op tasks)"
    )
    print(f"2. per-node overhead, flowkit ÷ raw Dask:   {median(idle_dask) / median(idle_raw):.2f}  (goal ≤ 1.5)")
    print(f"3. CPU DAG, flowkit on Dask ÷ raw Dask:     {median(cpu_dask) / median(cpu_raw):.2f}")


if __name__ == "__main__":
    main()
