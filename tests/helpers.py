"""Helpers for tests: write integration modules, hunt for a canary secret."""

from __future__ import annotations

import base64
import textwrap
import time
from pathlib import Path


def write_integration(folder: Path, name: str, tasks_source: str, *, init_source: str | None = None) -> Path:
    """Write ``folder/name/{__init__,tasks}.py``; `init_source` defaults to ``from .tasks import *``."""
    module = Path(folder) / name
    module.mkdir(parents=True, exist_ok=True)
    (module / "tasks.py").write_text(textwrap.dedent(tasks_source))
    init = "from .tasks import *  # noqa: F401,F403\n" if init_source is None else textwrap.dedent(init_source)
    (module / "__init__.py").write_text(init)
    return module


def canary_forms(canary: str) -> list[bytes]:
    """The canary and the encodings a leak could take."""
    raw = canary.encode()
    return [
        raw,
        base64.b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
        raw.hex().encode(),
    ]


def find_canary(canary: str, *texts: str | bytes) -> list[str]:
    """Which forms of the canary occur in the given texts (empty: none)."""
    hits = []
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        hits += [form.decode() for form in canary_forms(canary) if form in data]
    return hits


def scan_tree(canary: str, root: Path) -> list[Path]:
    """Every file under `root` (hidden ones too) holding the canary in any form."""
    return [path for path in Path(root).rglob("*") if path.is_file() and find_canary(canary, path.read_bytes())]


def gone(pid: int) -> bool:
    """Whether `pid` no longer runs (exited, or a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.02)
    return False
