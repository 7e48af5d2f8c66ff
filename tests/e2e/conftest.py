"""Browser end-to-end fixtures: one JupyterLab server and one headless Chromium for this folder.

Everything here is package-scoped (this folder is a package), so the server, the browser and
Playwright's driver stop as soon as the last browser test ran instead of idling through the rest
of the suite. Each test gets a fresh folder under the server's root, a fresh notebook in it and a
fresh Lab workspace; its end state is photographed into ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import write_integration
from playwright.sync_api import Browser, BrowserType, Page, Playwright, sync_playwright

import flowkit as fk

from .jlab import ARTIFACTS, LabServer, Notebook, slug, write_notebook

CHROMIUM = Path("/usr/bin/chromium")
# E2E.md section 4: no sandbox as root, no GPU, nothing phoning home, /dev/shm may be small.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Tall enough for the whole workflow builder, drawing to result table, in one screenshot.
VIEWPORT = {"width": 1400, "height": 1400}
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a browser test, and each costs ~10 s."""
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Keep each phase's report on the item so the page fixture knows, at teardown, whether the test failed.
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


@pytest.fixture(scope="package", autouse=True)
def chromium() -> Path:
    """Debian's Chromium; without it the browser tests skip, except in CI where they must run."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: install Debian's chromium (scripts/test.sh does it as root)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so the browser tests may not be skipped")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="package")
def artifacts() -> Path:
    """``test-artifacts/e2e/``, emptied once per run so no stale screenshot misleads."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[LabServer]:
    """``flowkit lab`` on 127.0.0.1 in a throw-away folder, so its kernels use a throw-away workspace and key."""
    base = tmp_path_factory.mktemp("e2e-lab")
    # The key folder sits outside the lab folder: a workspace never holds its key.
    env = {"FLOWKIT_CONFIG_DIR": str(base / "flowkit-config")}
    server = LabServer(base, env, log_path=artifacts / "jupyterlab.log")
    server.start()
    yield server
    server.stop()


# -- pytest-playwright's fixtures, narrowed from session to package scope and pointed at Debian's Chromium --
@pytest.fixture(scope="package")
def playwright(_pw_api_request_contexts: Any) -> Iterator[Playwright]:
    pw = sync_playwright().start()
    if _pw_api_request_contexts:
        _pw_api_request_contexts.instrument(pw)
    yield pw
    pw.stop()


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright) -> BrowserType:
    return playwright.chromium


@pytest.fixture(scope="package")
def browser_type_launch_args(chromium: Path) -> dict[str, Any]:
    # Never --user-data-dir in args: Playwright refuses it and makes a fresh profile anyway (pitfall 8).
    return {"executable_path": str(chromium), "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="package")
def browser_context_args() -> dict[str, Any]:
    return {"viewport": VIEWPORT}


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args: dict[str, Any], browser_type: BrowserType) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    browser = launch_browser()
    yield browser
    browser.close()


# -- per test ------------------------------------------------------------------------------------------
def file_name_of(node: pytest.Item) -> str:
    """The test's name for files, without the ``[chromium]`` pytest-playwright appends."""
    return slug(node.name.removesuffix("[chromium]"))


@pytest.fixture
def test_dir(lab: LabServer, request: pytest.FixtureRequest) -> Path:
    """A fresh folder under the server's root for this test's notebook and workspace."""
    folder = lab.root / file_name_of(request.node)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def lab_page(page: Page, artifacts: Path, request: pytest.FixtureRequest) -> Generator[Page, None, None]:
    """The browser page; at teardown its end state is saved as ``<test>.png`` (``-FAILED.png`` on failure).

    It also fails the test if the page asked anything of a host other than 127.0.0.1.
    """
    console: list[str] = []
    external: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))

    def check_host(req: Any) -> None:
        parts = urlsplit(req.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
            external.append(req.url)

    page.on("request", check_host)
    yield page
    name = file_name_of(request.node)
    call = getattr(request.node, "e2e_report_call", None)
    failed = call is None or call.failed
    page.screenshot(path=artifacts / f"{name}{'-FAILED' if failed else ''}.png")
    if failed:
        (artifacts / f"{name}-console.txt").write_text("\n".join(console))
    assert not external, f"the page reached beyond 127.0.0.1: {external}"


@pytest.fixture
def open_notebook(lab: LabServer, lab_page: Page) -> Callable[[Path], Notebook]:
    """Open a notebook under the server's root in a fresh Lab workspace and wait for an idle kernel."""

    def open_(path: Path) -> Notebook:
        relpath = path.resolve().relative_to(lab.root.resolve()).as_posix()
        lab_page.goto(lab.notebook_url(relpath, workspace=f"e2e-{uuid.uuid4().hex[:12]}"))
        notebook = Notebook(lab_page, path.name)
        notebook.wait_ready()
        return notebook

    return open_


# -- the flowkit side: a workspace per test, a test integration, the App notebook ----------------------------
ECHO_TASKS = '''\
"""An integration for the browser tests: a key check by hash (no network), an echo, a failure."""

import hashlib

GOOD_KEY_SHA256 = {digest!r}


def test_connection(credentials, params):
    """Accept only the one good API key."""
    if hashlib.sha256(credentials["api_key"].encode()).hexdigest() == GOOD_KEY_SHA256:
        return {{"success": True, "message": f"Connected as {{credentials['account']}}"}}
    return {{"success": False, "message": f"The API key was refused for {{credentials['account']}}"}}


def echo(credentials, params):
    """Return the text it was given."""
    return {{"success": True, "message": params["text"], "text": params["text"]}}


def fail(credentials, params):
    """Always fail, like a service that is down."""
    raise RuntimeError("the e2e service is down")
'''
ECHO_INIT = 'from .tasks import echo, fail, test_connection\n\n__all__ = ["echo", "fail", "test_connection"]\n'


@pytest.fixture
def workspace(lab: LabServer, test_dir: Path, monkeypatch: pytest.MonkeyPatch) -> fk.Workspace:
    """This test's flowkit workspace, opened here with the same key folder the kernels use."""
    monkeypatch.setenv("FLOWKIT_CONFIG_DIR", lab.flowkit_config_dir)
    return fk.Workspace(test_dir / "workspace")


@pytest.fixture
def echo_module(workspace: fk.Workspace, canary: str) -> str:
    """The ``e2e_echo`` integration module in the workspace; its Test Connection accepts only `canary`."""
    digest = hashlib.sha256(canary.encode()).hexdigest()
    write_integration(
        workspace.path / "integrations", "e2e_echo", ECHO_TASKS.format(digest=digest), init_source=ECHO_INIT
    )
    return "e2e_echo"


@pytest.fixture
def app_notebook(test_dir: Path, workspace: fk.Workspace) -> Path:
    """A notebook whose one cell shows ``fk.ui.App`` on this test's workspace."""
    return write_notebook(
        test_dir / "app.ipynb",
        f"import flowkit as fk\n\nws = fk.Workspace({str(workspace.path)!r})\napp = fk.ui.App(ws)\napp",
    )


@pytest.fixture
def echo_integration(workspace: fk.Workspace, echo_module: str, canary: str) -> str:
    """The type ``e2e_echo`` and an integration ``Echo`` of it (created here; the kernel decrypts it)."""
    workspace.types.create(
        echo_module,
        description="Echo service",
        params=[
            fk.Param("account", kind="text", required=True),
            fk.Param("api_key", kind="password", required=True),
        ],
    )
    workspace.integrations.create("Echo", type=echo_module, credentials={"account": "alice", "api_key": canary})
    return "Echo"
