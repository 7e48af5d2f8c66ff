"""Drive a real JupyterLab: start a throw-away server, open notebooks in it, run their cells.

The facts behind every option and wait here are measured in ../shared/E2E.md (JupyterLab 4.6,
ipywidgets 8.1, Chromium in headless mode); the pitfall numbers in comments refer to its section 7.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

import nbformat
from playwright.sync_api import Page, expect

# Lab's own settings, pre-seeded so nothing but the notebook asks for attention.
LAB_SETTINGS = {
    # The news toast ignores --LabApp.news_url=None and covers the bottom-right corner (pitfall 6).
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Attach every cell, so widgets below the fold exist in the DOM.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # Tests save on purpose; autosave writing mid-test would only add noise (pitfall 14).
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # A person who ticks "Save widget state" must not find a secret in the saved notebook:
    # keep the channel open so the tests can look.
    "@jupyter-widgets/jupyterlab-manager/plugin": {"saveState": True},
}

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
START_TIMEOUT = 90.0
# Kernel start and Lab's first paint take 7-16 s on 2 cores (E2E.md section 6).
KERNEL_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 60_000


def slug(text: str) -> str:
    """A file-name-safe form of a test name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:80]


def shot(page: Page, name: str) -> Path:
    """Save an extra screenshot ``test-artifacts/e2e/<name>.png`` (each test's end state is taken anyway)."""
    path = ARTIFACTS / f"{slug(name)}.png"
    page.screenshot(path=path)
    return path


def free_port() -> int:
    """A TCP port nobody listens on right now (the server gets port_retries=0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LabServer:
    """JupyterLab started the way the README's main job starts it: ``flowkit lab``.

    ``flowkit lab --dir <root>`` copies flowkit's notebooks into the root, points
    ``FLOWKIT_WORKSPACE`` at ``<root>/workspace`` and opens JupyterLab on
    ``getting_started.ipynb``; the options after it (E2E.md section 3) keep the server
    on 127.0.0.1 with its own config, runtime, settings and Lab workspaces.

    Args:
        base: an empty folder; the server's dirs and its root go below it.
        env: extra environment for the server and therefore for every kernel it starts.
        log_path: where the server's output goes.
    """

    def __init__(self, base: Path, env: dict[str, str], *, log_path: Path) -> None:
        self.base = base
        self.root = base / "lab"
        self.workspace = self.root / "workspace"  # where `flowkit lab` points FLOWKIT_WORKSPACE
        self.log_path = log_path
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.flowkit_config_dir = env.get("FLOWKIT_CONFIG_DIR", "")
        self._extra_env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        """``flowkit lab`` plus the JupyterLab options it hands on, and ``expose_app_in_browser``."""
        return [
            str(Path(sys.executable).with_name("flowkit")),
            "lab",
            "--dir",
            str(self.root),
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.allow_root=True",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--LabApp.user_settings_dir={self.base / 'settings'}",
            f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",
        ]

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTER", "FLOWKIT_"))}
        env.update(
            JUPYTER_CONFIG_DIR=str(self.base / "config"),
            JUPYTER_DATA_DIR=str(self.base / "data"),
            JUPYTER_RUNTIME_DIR=str(self.base / "runtime"),
            IPYTHONDIR=str(self.base / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(self._extra_env)
        return env

    def seed_settings(self) -> None:
        for plugin, values in LAB_SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            path = self.base / "settings" / package / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def start(self) -> None:
        """Start the server and wait until ``/api/status`` answers."""
        self.seed_settings()
        self._log = self.log_path.open("wb")
        # `flowkit lab` execs JupyterLab in its own process: this pid is the server's, so terminate()
        # stops it (pitfall 9).
        self._proc = subprocess.Popen(
            self.command(), cwd=self.base, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)  # polling a socket that is not listening yet: nothing to wait on instead
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM: the server shuts its kernels down itself; kill it if it hangs."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._log is not None:
            self._log.close()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def notebook_url(self, relpath: str, workspace: str) -> str:
        """The notebook in a fresh named Lab workspace: no tab of an earlier test comes back (pitfall 1)."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{relpath}?reset&token={self.token}"


def write_notebook(path: Path, *cells: str) -> Path:
    """A notebook of code cells, with the kernelspec Lab needs to start a kernel without asking."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = KERNELSPEC
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# Resolves when every code cell has a number, or as soon as one shows an error (then the rest never run).
_CELLS_DONE_JS = """(panelSelector) => {
  const panel = document.querySelector(panelSelector);
  if (!panel) return false;
  const stderr = [...panel.querySelectorAll(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")];
  if (stderr.some((e) => /Traceback/.test(e.textContent))) return true;
  const prompts = [...panel.querySelectorAll(".jp-CodeCell .jp-InputArea-prompt")];
  return prompts.length > 0 && prompts.every((p) => /^\\[\\d+\\]:$/.test(p.textContent.trim()));
}"""

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


class Notebook:
    """One notebook open in the page: wait for its kernel, run it, reach its outputs."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.panel = page.locator(PANEL)

    def wait_ready(self) -> None:
        """Our tab is current and the kernel is idle.

        The execution indicator says ``idle`` before the kernel even started (pitfall 2): the
        status bar text is the reliable half.
        """
        current = self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
        expect(current).to_contain_text(self.name, timeout=KERNEL_TIMEOUT_MS)
        expect(self.panel.locator(".jp-Cell").first).to_be_visible(timeout=KERNEL_TIMEOUT_MS)
        expect(self.page.locator("#jp-main-statusbar")).to_contain_text(
            re.compile(r"Python 3 \(ipykernel\) \| Idle"), timeout=KERNEL_TIMEOUT_MS
        )
        expect(self.panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_visible(
            timeout=KERNEL_TIMEOUT_MS
        )
        # The file browser takes a fifth of the width; the screenshots are about the notebook.
        self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")

    def run_all(self) -> None:
        """Run > Run All Cells (no default shortcut in Lab 4, pitfall 7), then wait for every cell."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(_CELLS_DONE_JS, arg=PANEL, timeout=RUN_TIMEOUT_MS)
        errors = self.panel.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
        for i in range(errors.count()):
            text = errors.nth(i).inner_text()
            assert "Traceback" not in text, f"a notebook cell failed:\n{text}"

    def save(self) -> None:
        """File > Save, and wait until Lab no longer marks the tab as modified."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        current = self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
        expect(current).not_to_have_class(re.compile(r"jp-mod-dirty"), timeout=15_000)
