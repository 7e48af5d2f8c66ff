"""What the registry's choices cost: lazy per-module import, and compiling plugins from source.

Run: ``.venv/bin/python benchmarks/bench_registry.py``. Two side-by-side measurements, medians:

1. **First lookup in a fresh process** (what ``flowkit run`` pays): ``registry.task(m, t)``
   imports only module ``m``; ``registry.modules()`` imports every built-in (as an eager
   registry would on first use). Each is timed inside its own fresh interpreter, interleaved.
2. **Loading one integration module**: flowkit's source-only loader (never reads or writes
   bytecode files, so a same-second same-size edit is seen; compiled code is cached in memory
   by the source's hash), after an edit and unchanged, against the standard loader with a
   warm ``__pycache__`` (which would run stale code after such an edit).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from flowkit.integrations.loader import load_folder_module
from flowkit.integrations.registry import Registry

REPEATS = 9
FIRST_LOOKUP = """
import json, sys, time
from flowkit.integrations.registry import Registry
reg = Registry(entry_points=False)
started = time.perf_counter()
{call}
print(json.dumps(time.perf_counter() - started))
"""


def fresh_process_seconds(call: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_LOOKUP.format(call=call)], capture_output=True, text=True, check=True
    )
    return float(json.loads(done.stdout))


def first_lookup() -> None:
    reg = Registry(entry_points=False)
    names = reg.modules()
    module = names[0]
    task = sorted(reg.tasks(module))[0]
    one, everything = [], []
    for _ in range(REPEATS):
        one.append(fresh_process_seconds(f"reg.task({module!r}, {task!r})"))
        everything.append(fresh_process_seconds("reg.modules()"))
    lazy, eager = statistics.median(one), statistics.median(everything)
    print(f"first lookup, fresh process, {len(names)} built-ins ({', '.join(names)}):")
    print(f"  task({module!r}, {task!r}) imports one module: {lazy * 1000:8.1f} ms")
    print(f"  modules() imports all of them:           {eager * 1000:8.1f} ms")
    print(f"  ratio lazy / eager: {lazy / eager:.2f}")


def module_source(functions: int) -> str:
    body = "\n".join(
        textwrap.dedent(f'''
        def task_{i}(credentials, params):
            """Task {i}: add the numbers it is given."""
            total = 0
            for value in params.get("values", []):
                total += value * {i}
            return {{"success": True, "message": "done", "total": total}}
        ''')
        for i in range(functions)
    )
    return "import json\nimport os\n" + body


def standard_load(name: str, folder: Path) -> None:
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


def loading() -> None:
    sys.dont_write_bytecode = False  # let the standard loader keep its cache, as it would by default
    with tempfile.TemporaryDirectory() as tmp:
        ours_folder, standard_folder = Path(tmp) / "bench_mod", Path(tmp) / "bench_standard"
        for folder in (ours_folder, standard_folder):
            folder.mkdir()
            (folder / "__init__.py").write_text(module_source(60))
        standard_load("bench_standard", standard_folder)  # writes its __pycache__
        edited, unchanged, standard = [], [], []
        for index in range(REPEATS * 3):
            (ours_folder / "__init__.py").write_text(module_source(60) + f"\n# edit {index}\n")
            started = time.perf_counter()
            load_folder_module("bench_mod", ours_folder)
            edited.append(time.perf_counter() - started)
            started = time.perf_counter()
            load_folder_module("bench_mod", ours_folder)
            unchanged.append(time.perf_counter() - started)
            started = time.perf_counter()
            standard_load("bench_standard", standard_folder)
            standard.append(time.perf_counter() - started)
        lines = len((standard_folder / "__init__.py").read_text().splitlines())
    after_edit, same, cached = (statistics.median(t) for t in (edited, unchanged, standard))
    print(f"loading a {lines}-line integration module:")
    print(f"  flowkit, after an edit (compiles):        {after_edit * 1000:8.2f} ms")
    print(f"  flowkit, unchanged (code cached by hash): {same * 1000:8.2f} ms")
    print(f"  standard loader, warm __pycache__:        {cached * 1000:8.2f} ms")
    print(f"  ratios to the standard loader: after an edit {after_edit / cached:.1f}, unchanged {same / cached:.2f}")


def main() -> None:
    first_lookup()
    loading()


if __name__ == "__main__":
    main()
