"""How long drawing a workflow takes, by size: medians, printed as ratios to the 1 s budget.

Run: ``.venv/bin/python benchmarks/bench_drawing.py``. Each size is a random
DAG (every node gets up to two upstream nodes), drawn 9 times; the median is
compared with the budget ("a 200-node workflow well under a second") and with
the 100-node drawing, which shows how the cost grows with size.
"""

from __future__ import annotations

import random
import statistics
import time

import flowkit as fk
from flowkit import drawing

BUDGET = 1.0
REPEATS = 9


def random_workflow(size: int, *, seed: int = 7) -> fk.Workflow:
    rng = random.Random(seed)
    wf = fk.Workflow(f"bench {size}")
    for index in range(size):
        wf.add_node(f"node_{index}", integration="Bench Integration", task="do_something")
        for upstream in {rng.randrange(index) for _ in range(2)} if index else ():
            wf.connect(f"node_{upstream}", f"node_{index}")
    return wf


def median_seconds(wf: fk.Workflow, statuses: dict[str, str] | None) -> float:
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        drawing.render(wf, statuses)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    sizes = (50, 100, 200, 400)
    medians = {}
    for size in sizes:
        wf = random_workflow(size)
        statuses = {name: "success" for name in wf.nodes}
        medians[size] = median_seconds(wf, statuses)
    print(f"{'nodes':>6} {'median ms':>10} {'/ 1 s budget':>13} {'/ 100 nodes':>12}")
    for size in sizes:
        print(
            f"{size:>6} {medians[size] * 1000:>10.2f} {medians[size] / BUDGET:>13.4f} "
            f"{medians[size] / medians[100]:>12.2f}"
        )


if __name__ == "__main__":
    main()
