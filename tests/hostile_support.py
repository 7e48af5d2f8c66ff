"""Shared set-up for the hostile-task tests: an integration whose tasks misbehave on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from helpers import gone, wait_gone, write_integration  # noqa: F401 -- re-exported for the tests

import flowkit as fk

HOSTILE = '''
import os
import sys
import time
from pathlib import Path

import flowkit as fk


class Custom(BaseException):
    """A BaseException of the task's own, whose class lives only in the task's module."""


def raises(credentials, params):
    kind = params["kind"]
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt("pressed")
    if kind == "SystemExit":
        raise SystemExit(3)
    if kind == "GeneratorExit":
        raise GeneratorExit("closed")
    raise Custom("custom base exception")


def hard_exit(credentials, params):
    os._exit(7)


def forks(credentials, params):
    pid = os.fork()
    if pid == 0:
        Path(params["child"]).write_text(str(os.getpid()))
        time.sleep(0.2)
    return {"success": True, "message": "forked", "pid": os.getpid()}


def closes_stdout(credentials, params):
    print("before closing")
    sys.stdout.close()
    return {"success": True, "message": "closed stdout"}


def sleeps(credentials, params):
    """Note its pid, then sleep up to `seconds` or until the file `release` exists."""
    if params.get("pidfile"):
        Path(params["pidfile"]).write_text(str(os.getpid()))
    deadline = time.monotonic() + params.get("seconds", 30)
    release = params.get("release")
    while time.monotonic() < deadline:
        if release and Path(release).exists():
            break
        time.sleep(0.02)
    return {"success": True, "message": "slept"}


def spawns(credentials, params):
    """Start `sleep 60`, note both pids, and wait for it."""
    import subprocess

    sleeper = subprocess.Popen(["sleep", "60"])
    Path(params["pids"]).write_text(f"{os.getpid()} {sleeper.pid}")
    sleeper.wait()
    return {"success": True, "message": "slept"}


def quick(credentials, params):
    return {"success": True, "message": "quick", "words": 3}


@fk.task(params=[fk.Param("query", kind="json")])
def takes_json(credentials, params):
    if not isinstance(params.get("query"), dict):
        raise fk.TaskFailed("'query' must be an object")
    return {"success": True, "message": "ok", "query": params["query"]}
'''


def add_hostile(ws: fk.Workspace) -> fk.Workspace:
    """The `hostile` module, its type and the integration ``Hostile``."""
    write_integration(ws.path / "integrations", "hostile", HOSTILE)
    ws.registry.reload()
    ws.types.create("hostile", params=[fk.Param("token", kind="password")])
    ws.integrations.create("Hostile", type="hostile", credentials={"token": "not-a-real-token"})
    return ws


def run_script(
    ws: fk.Workspace, tmp_path: Path, body: str, *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `body` in a fresh interpreter, after ``import time``, ``import flowkit as fk`` and ``ws = <ws>``.

    Raises:
        subprocess.TimeoutExpired: past `timeout` seconds (a script that hangs is killed).
    """
    script = tmp_path / f"script-{time.monotonic_ns()}.py"
    preamble = f"import time\nimport flowkit as fk\nws = fk.Workspace({str(ws.path)!r})\n"
    script.write_text(preamble + textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=timeout, env=dict(os.environ)
    )


def wait_for_file(path: Path, within: float = 60.0) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} did not appear within {within} s")


#: The `flowkit` command in a fresh interpreter (`flowkit.cli.main` is its entry point).
FLOWKIT = [sys.executable, "-c", "import sys; from flowkit.cli import main; sys.exit(main())"]
