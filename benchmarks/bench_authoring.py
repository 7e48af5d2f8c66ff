"""What `flowkit.task` costs a call: checking params and catching `TaskFailed` (masking is the engine's).

Run: ``.venv/bin/python benchmarks/bench_authoring.py``. Two side-by-side measurements, interleaved, medians:

1. **One call**: the same function bare and under ``@flowkit.task`` (two declared params, one
   filled from its default, three credential values).
2. **One node in a run**: a one-node workflow run inline (`ws.run`, validation, decryption,
   the run record written) calling the bare task and the decorated one: the decorator's share
   of what a node costs anyway.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from benchkit import bench_workspace

import flowkit as fk

REPEATS = 15
CALLS = 20_000
RUNS = 40
CREDENTIALS = {
    "token": "xoxb-123456789-abcdef",
    "webhook_url": "https://hooks.example.com/services/T000/B000/XXXX",
    "base_url": "https://api.example.com/",
}
PARAMS = [fk.Param("channel", required=True), fk.Param("count", kind="integer", default=1)]
MODULE = """
import flowkit as fk


def bare(credentials, params):
    return {"success": True, "message": "sent to " + params["channel"], "count": params.get("count", 1)}


@fk.task(params=[fk.Param("channel", required=True), fk.Param("count", kind="integer", default=1)])
def decorated(credentials, params):
    return {"success": True, "message": "sent to " + params["channel"], "count": params["count"]}
"""


def bare(credentials: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "message": "sent to " + params["channel"], "count": params.get("count", 1)}


def one_call() -> None:
    decorated = fk.task(params=PARAMS)(bare)
    plain_times, task_times = [], []
    for _ in range(REPEATS):
        plain_times.append(timeit.timeit(lambda: bare(CREDENTIALS, {"channel": "#a"}), number=CALLS) / CALLS)
        task_times.append(timeit.timeit(lambda: decorated(CREDENTIALS, {"channel": "#a"}), number=CALLS) / CALLS)
    plain, task = statistics.median(plain_times), statistics.median(task_times)
    print("one call:")
    print(f"  bare function:  {plain * 1e6:8.2f} µs")
    print(f"  @flowkit.task:  {task * 1e6:8.2f} µs  ({task / plain:.0f}x; +{(task - plain) * 1e6:.1f} µs)")


def one_node() -> None:
    with tempfile.TemporaryDirectory() as folder:
        params = [fk.Param("token", kind="password"), fk.Param("webhook_url", kind="password"), fk.Param("base_url")]
        ws = bench_workspace(Path(folder), MODULE, params=params, credentials=CREDENTIALS)
        flows = {}
        for task in ("bare", "decorated"):
            flows[task] = fk.Workflow(task)
            flows[task].add_node("n", integration="Bench", task=task, params={"channel": "#a"})
        times: dict[str, list[float]] = {"bare": [], "decorated": []}
        for task in times:  # warm: modules imported, caches filled
            ws.run(flows[task], executor="inline")
        for _ in range(RUNS):
            for task in times:
                started = time.perf_counter()
                run = ws.run(flows[task], executor="inline")
                times[task].append(time.perf_counter() - started)
                assert run.ok, run.error
    plain, task = statistics.median(times["bare"]), statistics.median(times["decorated"])
    print("one-node run, inline executor:")
    print(f"  bare task:      {plain * 1e3:8.2f} ms")
    print(f"  @flowkit.task:  {task * 1e3:8.2f} ms  ({task / plain:.3f}x)")


if __name__ == "__main__":
    one_call()
    one_node()
