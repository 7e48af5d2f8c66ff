"""Integration discovery: sources, private-namespace loading, hostile names, task specs, reload."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flowkit as fk
from flowkit.errors import CredentialsError, InvalidName, ModuleNotFound, UnknownTask
from flowkit.integrations import registry as registry_module
from flowkit.integrations.loader import display_name
from flowkit.integrations.registry import Registry, builtin_folder
from tests.helpers import find_canary, write_integration

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "integrations"
    path.mkdir()
    return path


@pytest.fixture
def reg(folder: Path) -> Registry:
    """A registry of one folder only: no built-ins, no entry points."""
    return Registry([folder], builtins=False, entry_points=False)


def marker_module(folder: Path, name: str, log: Path) -> Path:
    """An integration whose import appends its name to `log`: proof of whether it was imported."""
    return write_integration(
        folder,
        name,
        f"""
        from pathlib import Path
        with open({str(log)!r}, "a") as log:
            log.write({name!r} + "\\n")
        def ping(credentials, params):
            return {{"success": True, "message": {name!r}}}
    """,
    )


def imported(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


# -- audit: what touched the filesystem or the importer ---------------------------------------

_recording: list[tuple[str, str]] | None = None
_hooked = False
_WATCHED = {"open", "import", "os.listdir", "os.scandir", "exec"}


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    if _recording is not None and event in _WATCHED:
        _recording.append((event, str(args[0]) if args else ""))


@pytest.fixture
def audit() -> Iterator[list[tuple[str, str]]]:
    """Events (open, import, listdir, scandir, exec) seen while the test records; the hook stays cheap after."""
    global _recording, _hooked
    if not _hooked:
        sys.addaudithook(_audit_hook)  # audit hooks cannot be removed; it records only inside this fixture
        _hooked = True
    events: list[tuple[str, str]] = []
    _recording = events
    yield events
    _recording = None


# -- sources and precedence ------------------------------------------------------------------


def test_workspace_folder_modules_are_discovered(ws: fk.Workspace) -> None:
    write_integration(
        ws.path / "integrations",
        "notes",
        """
        '''Take notes.'''
        def add(credentials, params):
            '''Add a note.

            Longer text.
            '''
            return {"success": True, "message": "added " + params["text"]}
    """,
        init_source="'''Take notes somewhere.'''\nfrom .tasks import *\n",
    )
    assert "notes" in ws.registry.modules()
    module = ws.registry.module("notes")
    assert (module.source, module.description) == ("workspace", "Take notes somewhere.")
    spec = ws.registry.task("notes", "add")
    assert (spec.name, spec.module, spec.summary) == ("add", "notes", "Add a note.")
    assert spec.doc == "Add a note.\n\nLonger text."
    assert spec.params is None and not spec.declared
    assert spec.schema["additionalProperties"] is True  # undeclared params are free JSON
    assert spec.func({}, {"text": "hi"}) == {"success": True, "message": "added hi"}
    assert "notes" in ws.registry and list(ws.registry) == ws.registry.modules()


def test_sources_in_order_of_precedence(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch, audit: list[tuple[str, str]]
) -> None:
    path_a, path_b, builtins = tmp_path / "path_a", tmp_path / "path_b", tmp_path / "builtins"
    for where, label in ((folder, "workspace"), (path_a, "path_a"), (path_b, "path_b"), (builtins, "builtin")):
        write_integration(where, "dup", f"def who(credentials, params):\n    return {{'message': {label!r}}}\n")
    write_integration(path_b, "only_path", "def who(credentials, params):\n    return {'message': 'b'}\n")
    write_integration(builtins, "only_builtin", "def who(credentials, params):\n    return {'message': 'bi'}\n")
    monkeypatch.setenv("FLOWKIT_INTEGRATIONS_PATH", os.pathsep.join([str(path_a), str(path_b), ""]))
    monkeypatch.setattr(registry_module, "builtin_folder", lambda: builtins)
    reg = Registry([folder], entry_points=False)
    assert [source for source, _ in reg.sources()] == ["workspace", "path", "path", "builtin"]
    assert reg.modules() == ["dup", "only_builtin", "only_path"]
    assert reg.task("dup", "who").func({}, {}) == {"message": "workspace"}
    assert [reg.module(n).source for n in ("dup", "only_path", "only_builtin")] == ["workspace", "path", "builtin"]
    hides = reg.notes()["dup"]
    assert any(str(path_a / "dup") in note for note in hides) and any(str(builtins / "dup") in note for note in hides)
    assert not any(event == "import" and "integrations" in arg for event, arg in audit)  # never a plain import


def test_builtins_come_from_the_checkout_and_never_from_an_unrelated_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert builtin_folder() == ROOT / "integrations"
    # An installed flowkit beside some other "integrations" folder (no flowkit pyproject): not imported.
    fake_pkg = tmp_path / "site" / "flowkit"
    fake_pkg.mkdir(parents=True)
    (tmp_path / "site" / "integrations").mkdir()
    monkeypatch.setattr(registry_module, "__file__", str(fake_pkg / "integrations" / "registry.py"))
    assert builtin_folder() is None
    (fake_pkg / "_builtin").mkdir()
    assert builtin_folder() == fake_pkg / "_builtin"


def test_the_wheel_ships_the_builtins_inside_flowkit(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy of what the build reads, so the working tree is left alone
    for part in ("flowkit", "integrations", "notebooks"):
        shutil.copytree(ROOT / part, source / part)
    for part in ("pyproject.toml", "README.md", ".gitignore"):  # hatch reads .gitignore to leave caches out
        shutil.copy(ROOT / part, source / part)
    (source / "integrations" / "demo_mod").mkdir(parents=True, exist_ok=True)
    (source / "integrations" / "demo_mod" / "__init__.py").write_text(
        "'''Demo.'''\ndef hello(credentials, params):\n    return {'success': True, 'message': 'hi'}\n"
    )
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next((tmp_path / "dist").glob("flowkit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "flowkit/_builtin/demo_mod/__init__.py" in names
    assert not [n for n in names if n.startswith("integrations/")], "a generic top-level 'integrations' package"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    shipped = {n.split("/")[2] for n in names if n.startswith("flowkit/_builtin/") and n.endswith("/__init__.py")}
    in_checkout = {p.parent.name for p in (source / "integrations").glob("*/__init__.py")}
    assert shipped == in_checkout
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
            import json, flowkit.integrations.registry as r
            reg = r.Registry(entry_points=False)
            spec = reg.task("demo_mod", "hello")
            print(json.dumps([str(r.builtin_folder()), reg.module("demo_mod").source, spec.func({}, {})]))
        """),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    assert probe.returncode == 0, probe.stderr
    folder, source_label, result = json.loads(probe.stdout)
    assert folder == str(site / "flowkit" / "_builtin") and source_label == "builtin"
    assert result == {"success": True, "message": "hi"}


# -- entry points ----------------------------------------------------------------------------


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A tiny installed distribution declaring flowkit.integrations entry points (good and broken)."""
    site = tmp_path / "site"
    pkg = site / "fk_ep_tool"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("'''An installed tool.'''\nfrom .tasks import *\n\ndef helper():\n    pass\n")
    (pkg / "tasks.py").write_text("def hello(credentials, params):\n    return {'message': 'from the package'}\n")
    (site / "fk_ep_broken.py").write_text("raise ImportError('needs libfoo')\n")
    dist = site / "fk_ep_tool-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fk-ep-tool\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent("""
        [flowkit.integrations]
        eptool = fk_ep_tool
        broken_ep = fk_ep_broken
        bad-name = fk_ep_tool
        not_a_module = fk_ep_tool:helper
    """)
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [n for n in sys.modules if n.startswith(("fk_ep_tool", "fk_ep_broken"))]:
        del sys.modules[name]


def test_entry_points_load_and_broken_plugins_are_reported_not_fatal(installed: Path, folder: Path) -> None:
    reg = Registry([folder], builtins=False)
    assert reg.modules() == ["eptool"]
    assert reg.task("eptool", "hello").func({}, {}) == {"message": "from the package"}
    module = reg.module("eptool")
    assert (module.source, module.location, module.description) == ("entry-point", "fk_ep_tool", "An installed tool.")
    errors = reg.errors()
    assert "needs libfoo" in errors["broken_ep"] and "fk_ep_broken" in errors["broken_ep"]
    assert "not valid" in errors["bad-name"]
    assert "must name a module" in errors["not_a_module"]
    with pytest.raises(ModuleNotFound, match="needs libfoo"):
        reg.module("broken_ep")


def test_a_folder_module_hides_an_entry_point_of_the_same_name(installed: Path, folder: Path) -> None:
    write_integration(folder, "eptool", "def hello(credentials, params):\n    return {'message': 'from the folder'}\n")
    reg = Registry([folder], builtins=False)
    assert reg.task("eptool", "hello").func({}, {}) == {"message": "from the folder"}
    assert any("entry-point fk_ep_tool" in note for note in reg.notes()["eptool"])


def test_registered_modules_come_first_and_survive_reload(reg: Registry, folder: Path) -> None:
    write_integration(folder, "mem", "def hello(credentials, params):\n    return {'message': 'folder'}\n")
    memory = types.ModuleType("my_tests.mem")
    memory.hello = lambda credentials, params: {"message": "memory"}  # type: ignore[attr-defined]
    memory.__all__ = ["hello"]  # type: ignore[attr-defined]
    assert reg.task("mem", "hello").func({}, {}) == {"message": "folder"}
    reg.register("mem", memory)
    reg.reload()
    assert reg.task("mem", "hello").func({}, {}) == {"message": "memory"} and reg.module("mem").source == "registered"
    reg.unregister("mem")
    assert reg.task("mem", "hello").func({}, {}) == {"message": "folder"}
    with pytest.raises(InvalidName):
        reg.register("../mem", memory)
    with pytest.raises(ModuleNotFound):
        reg.unregister("mem")


# -- private namespace ------------------------------------------------------------------------


def test_same_function_names_in_two_modules_run_their_own_code(reg: Registry, folder: Path) -> None:
    for name in ("alpha", "beta"):
        write_integration(
            folder,
            name,
            """
            from .helpers import label
            STATE = []
            def send(credentials, params):
                STATE.append(1)
                return {"message": label(), "calls": len(STATE)}
        """,
        )
        (folder / name / "helpers.py").write_text(f"def label():\n    return {name!r}\n")
    assert reg.task("alpha", "send").func({}, {}) == {"message": "alpha", "calls": 1}
    assert reg.task("beta", "send").func({}, {}) == {"message": "beta", "calls": 1}
    assert reg.task("alpha", "send").func({}, {}) == {"message": "alpha", "calls": 2}


def test_folders_named_like_stdlib_or_packages_neither_shadow_nor_are_shadowed(reg: Registry, folder: Path) -> None:
    before = {name: sys.modules.get(name) for name in ("json", "os", "slack")}
    path_before = list(sys.path)
    for name in ("json", "os", "slack"):
        write_integration(
            folder,
            name,
            f"""
            import json
            import os
            from . import json as mine
            def probe(credentials, params):
                return {{"me": {name!r}, "stdlib_json": json.dumps([1]), "pid": os.getpid() > 0,
                         "relative": getattr(mine, "__name__", "")}}
        """,
        )
        (folder / name / "json.py").write_text("LOCAL = True\n")
    assert reg.modules() == ["json", "os", "slack"]
    for name in ("json", "os", "slack"):
        result = reg.task(name, "probe").func({}, {})
        assert result["me"] == name and result["stdlib_json"] == "[1]" and result["pid"]
        assert result["relative"].startswith("flowkit._plugins.") and result["relative"].endswith(".json")
    import json as after_json

    assert after_json.dumps({"a": 1}) == '{"a": 1}' and after_json is before["json"]
    assert {name: sys.modules.get(name) for name in ("json", "os", "slack")} == before
    assert sys.path == path_before


def test_private_module_names_read_plainly_in_logs(reg: Registry, folder: Path) -> None:
    write_integration(
        folder,
        "my_tool",
        "import logging\nLOG = logging.getLogger(__name__)\n"
        "def ping(credentials, params):\n    return {'logger': LOG.name}\n",
    )
    logger_name = reg.task("my_tool", "ping").func({}, {})["logger"]
    assert logger_name.startswith("flowkit._plugins.my_tool_") and logger_name.endswith(".tasks")
    assert display_name(logger_name) == "my_tool.tasks"
    assert display_name(logger_name.rpartition(".")[0]) == "my_tool"
    assert display_name("requests.adapters") == "requests.adapters"


def test_relative_imports_and_subpackages_work(reg: Registry, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    write_integration(
        folder,
        "rel",
        """
        from .client import Client
        from .sub.helpers import double
        def run(credentials, params):
            return {"value": double(Client().base)}
    """,
    )
    (folder / "rel" / "client.py").write_text("class Client:\n    base = 21\n")
    (folder / "rel" / "sub").mkdir()
    (folder / "rel" / "sub" / "__init__.py").write_text("")
    (folder / "rel" / "sub" / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    assert reg.task("rel", "run").func({}, {}) == {"value": 42}
    assert not list(folder.rglob("__pycache__")), "plugin modules never write bytecode"


# -- hostile names (RELIABILITY row 12) -------------------------------------------------------

HOSTILE = [
    "../../etc",
    "/etc",
    "..",
    "a/../../b",
    "x\0y",
    "with space",
    "os.path",
    "",
    ".hidden",
    "__init__",
    "__import__",
    "tasks/../../x",
    "C:\\x",
    "name\n",
    "déjà",
    "class",
    "a" * 101,
]


def test_hostile_names_are_refused_before_touching_the_filesystem_or_importer(
    ws: fk.Workspace, audit: list[tuple[str, str]]
) -> None:
    write_integration(ws.path / "integrations", "ok", "def ping(credentials, params):\n    return {}\n")
    assert ws.registry.task("ok", "ping")  # discovery done: anything recorded next is the hostile lookups'
    modules_before, audit[:] = set(sys.modules), []
    for name in HOSTILE:
        with pytest.raises(InvalidName):
            ws.registry.module(name)
        with pytest.raises(InvalidName):
            ws.registry.task(name, "ping")
        with pytest.raises(InvalidName):
            ws.registry.task("ok", name)
        with pytest.raises(InvalidName):
            ws.registry.tasks(name)
        with pytest.raises(InvalidName):
            ws.types.create_from_module(name)
        assert name not in ws.registry
    assert audit == []  # no open, listdir, scandir, import or exec at all
    assert set(sys.modules) == modules_before
    ws.registry.reload()
    assert ("os.listdir", str(ws.path / "integrations")) in audit  # the hook does see the registry's work


def test_a_fresh_registry_refuses_hostile_names_without_scanning(folder: Path, audit: list[tuple[str, str]]) -> None:
    reg = Registry([folder])
    for name in HOSTILE:
        with pytest.raises(InvalidName):
            reg.module(name)
    assert audit == []


def test_symlinks_out_of_the_folder_and_bad_folder_names_are_never_imported(
    reg: Registry, folder: Path, tmp_path: Path, audit: list[tuple[str, str]]
) -> None:
    log = tmp_path / "imported.log"
    outside = tmp_path / "outside"
    marker_module(outside, "evil", log)
    (folder / "evil").symlink_to(outside / "evil", target_is_directory=True)
    marker_module(folder, "my tool", log)
    marker_module(folder, "os.path", log)
    marker_module(folder, "good", log)
    (outside / "client.py").write_text(f"open({str(log)!r}, 'a').write('client\\n')\nX = 1\n")
    write_integration(folder, "sneaky", "from .client import X\ndef use(credentials, params):\n    return {}\n")
    (folder / "sneaky" / "client.py").symlink_to(outside / "client.py")

    audit[:] = []  # from here on, only what the registry does
    assert reg.modules() == ["good"]
    assert imported(log) == ["good"]
    errors = reg.errors()
    assert "leads outside" in errors["evil"]
    assert "not valid" in errors["my tool"] and "not valid" in errors["os.path"]
    assert "leads outside the integration folder" in errors["sneaky"]
    with pytest.raises(ModuleNotFound, match="leads outside"):
        reg.module("evil")
    assert not [arg for event, arg in audit if event in ("open", "import", "exec") and str(outside) in arg]


# -- which names are tasks (RELIABILITY row 13) ---------------------------------------------------


def test_all_names_the_tasks_and_non_tasks_are_noted(reg: Registry, folder: Path) -> None:
    write_integration(
        folder,
        "picky",
        """
        def send(credentials, params):
            return {"message": "sent"}
        def _hidden(credentials, params):
            return {}
        def no_args():
            return {}
        class Klass:
            def __init__(self, credentials, params):
                pass
        CONSTANT = 3
    """,
        init_source="""
        from .tasks import send, _hidden, no_args, Klass, CONSTANT
        __all__ = ["send", "__import__", "_hidden", "no_args", "Klass", "CONSTANT", "missing", "class", "a-b"]
    """,
    )
    assert list(reg.tasks("picky")) == ["send"]
    notes = " | ".join(reg.notes()["picky"])
    for expected in (
        "'__import__' is not a task: Task name '__import__' is reserved",
        "'_hidden' is not a task: names starting with '_' are private",
        "'no_args' is not a task: it cannot be called as fn(credentials, params)",
        "'Klass' is not a task: it is a class",
        "'CONSTANT' is not a task: it is a int",
        "'missing' is not a task: listed in __all__ but not defined",
        "'class' is not a task",
        "'a-b' is not a task",
    ):
        assert expected in notes
    with pytest.raises(InvalidName):
        reg.task("picky", "__import__")
    with pytest.raises(UnknownTask, match="Tasks of 'picky': send"):
        reg.task("picky", "_hidden")


def test_without_all_only_public_functions_defined_in_tasks_py_are_tasks(reg: Registry, folder: Path) -> None:
    write_integration(
        folder,
        "plain",
        """
        from os.path import join
        from .helpers import helper_task
        import json
        class Klass:
            pass
        def _private(credentials, params):
            return {}
        def public(credentials, params):
            return {"message": join("a", "b")}
        def test_connection(credentials, params):
            return {"success": True, "message": "ok"}
    """,
    )
    (folder / "plain" / "helpers.py").write_text("def helper_task(credentials, params):\n    return {}\n")
    assert sorted(reg.tasks("plain")) == ["public", "test_connection"]
    for name in ("join", "helper_task", "_private", "Klass", "json"):
        with pytest.raises((UnknownTask, InvalidName)):
            reg.task("plain", name)


def test_tasks_py_all_counts_when_init_star_imports_it(reg: Registry, folder: Path) -> None:
    write_integration(
        folder,
        "starred",
        """
        __all__ = ["exported"]
        def exported(credentials, params):
            return {}
        def internal_but_public(credentials, params):
            return {}
    """,
    )
    assert list(reg.tasks("starred")) == ["exported"]


def test_a_malformed_all_fails_the_module_with_a_clear_error(reg: Registry, folder: Path) -> None:
    write_integration(
        folder,
        "stringy",
        "def send(credentials, params):\n    return {}\n",
        init_source="from .tasks import send\n__all__ = 'send'\n",
    )
    assert "__all__ must be a list of names" in reg.errors()["stringy"]


# -- declared params ---------------------------------------------------------------------------------

TYPED = """
    from __future__ import annotations

    import datetime
    from typing import Literal, Optional, TypedDict

    import flowkit
    from flowkit import Param
    from typing_extensions import NotRequired, Required


    class SendParams(TypedDict):
        channel: str
        count: NotRequired[int]
        ratio: NotRequired[float]
        urgent: NotRequired[bool]
        mode: Literal["fast", "slow"]
        tags: NotRequired[list[str]]
        maybe: NotRequired[Optional[int]]
        when: NotRequired[datetime.datetime]
        later: NotRequired[NotDefinedAnywhere]


    class Loose(TypedDict, total=False):
        a: str
        b: Required[int]


    Bad = TypedDict("Bad", {"my-key": str})


    def send(credentials, params: SendParams):
        '''Send a message.

        More words.

        Args:
            channel: where to post,
                e.g. #general.
            count (int): how many times.

        Returns:
            a dict.
        '''
        return {"success": True}


    def loose(credentials, params: Loose):
        return {}


    def bad(credentials, params: Bad):
        return {}


    def unresolved(credentials, params: NotDefinedEither):
        return {}


    @flowkit.task(params=[Param("channel", required=True), Param("n", kind="integer", default=2, help="own help")])
    def decorated(credentials, params: Loose):
        '''Decorated.

        Args:
            channel: from the docstring.
            n: not used: the Param has its own help.
        '''
        return {}
"""


def test_typeddict_and_decorator_declare_params_with_docstring_help(reg: Registry, folder: Path) -> None:
    write_integration(folder, "typed", TYPED)
    spec = reg.task("typed", "send")
    assert (spec.summary, spec.declared) == ("Send a message.", True)
    declared = {p.name: (p.kind, p.required, p.choices, p.help) for p in spec.params or []}
    assert declared == {
        "channel": ("text", True, None, "where to post, e.g. #general."),
        "count": ("integer", False, None, "how many times."),
        "ratio": ("number", False, None, ""),
        "urgent": ("boolean", False, None, ""),
        "mode": ("choice", True, ["fast", "slow"], ""),
        "tags": ("json", False, None, ""),
        "maybe": ("integer", False, None, ""),
        "when": ("json", False, None, ""),  # not representable: a free JSON field, not a failure
        "later": ("json", False, None, ""),  # not even resolvable
    }
    assert spec.schema["required"] == ["channel", "mode"]
    assert {(p.name, p.required) for p in reg.task("typed", "loose").params or []} == {("a", False), ("b", True)}
    assert reg.task("typed", "unresolved").params is None
    decorated = reg.task("typed", "decorated").params or []
    assert [(p.name, p.help) for p in decorated] == [("channel", "from the docstring."), ("n", "own help")]
    with pytest.raises(UnknownTask):
        reg.task("typed", "bad")
    assert any("'bad' is not a task: its params declaration is invalid" in n for n in reg.notes()["typed"])


# -- CREDENTIALS and types -----------------------------------------------------------------------------

CREDENTIALED = """
    '''A service.'''
    from flowkit import Param

    CREDENTIALS = [
        Param("token", kind="password", required=True, help="API token"),
        Param("base_url", default="https://api.example"),
    ]

    def test_connection(credentials, params):
        return {"success": True, "message": "ok"}
"""


def test_credentials_declaration_creates_the_type_and_drift_is_reported(ws: fk.Workspace, canary: str) -> None:
    folder = ws.path / "integrations"
    write_integration(folder, "svc", CREDENTIALED, init_source="'''A service.'''\nfrom .tasks import *\n")
    itype = ws.types.create_from_module("svc")
    assert itype.description == "A service."
    assert [p.to_dict() for p in itype.params] == [p.to_dict() for p in ws.registry.module("svc").credentials or []]
    assert ws.types.drift("svc") == []
    ws.integrations.create("My svc", type="svc", credentials={"token": canary})

    (folder / "svc" / "tasks.py").write_text(
        textwrap.dedent(CREDENTIALED)
        .replace(
            'Param("base_url", default="https://api.example")', 'Param("region", kind="choice", choices=["eu", "us"])'
        )
        .replace('help="API token"', 'help="API token"), Param("timeout", kind="number"')
    )
    ws.registry.reload()
    drift = ws.types.drift("svc")
    assert drift == [
        "'timeout' is declared by the module but missing from the type",
        "'region' is declared by the module but missing from the type",
        "'base_url' is in the type but no longer declared by the module",
    ]
    (folder / "svc" / "tasks.py").write_text(
        textwrap.dedent(CREDENTIALED).replace('kind="password", required=True', 'kind="text", required=True')
    )
    ws.registry.reload()
    assert ws.types.drift("svc") == ["'token': kind is 'password' in the type but 'text' in the module"]
    everything = [
        repr(ws.registry),
        repr(ws.registry.module("svc")),
        json.dumps(ws.registry.errors()),
        json.dumps(ws.registry.notes()),
        str(ws.types.drift("svc")),
        json.dumps(ws.registry.task("svc", "test_connection").schema),
    ]
    assert not find_canary(canary, *everything)


def test_modules_without_or_with_broken_credentials(reg: Registry, folder: Path, ws: fk.Workspace) -> None:
    write_integration(ws.path / "integrations", "bare", "def ping(credentials, params):\n    return {}\n")
    with pytest.raises(CredentialsError, match="declares no CREDENTIALS"):
        ws.types.create_from_module("bare")
    write_integration(
        folder,
        "dicts",
        "CREDENTIALS = [{'name': 'token', 'kind': 'password'}]\ndef ping(credentials, params):\n    return {}\n",
    )
    write_integration(folder, "badkind", "CREDENTIALS = [{'name': 'token', 'kind': 'secret'}]\n")
    write_integration(folder, "notalist", "CREDENTIALS = 'token'\n")
    assert [p.kind for p in reg.module("dicts").credentials or []] == ["password"]
    errors = reg.errors()
    assert "badkind.CREDENTIALS is invalid" in errors["badkind"] and "choose one of" in errors["badkind"]
    assert "must be a list of Param" in errors["notalist"]


# -- reload and failures ------------------------------------------------------------------------------------


def test_reload_sees_an_edit_that_keeps_size_and_mtime(
    reg: Registry, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a machine without PYTHONDONTWRITEBYTECODE
    module = write_integration(folder, "edit", "def value(credentials, params):\n    return {'v': 1}\n")
    tasks_py = module / "tasks.py"
    assert reg.task("edit", "value").func({}, {}) == {"v": 1}
    stat = tasks_py.stat()
    tasks_py.write_text("def value(credentials, params):\n    return {'v': 2}\n")
    os.utime(tasks_py, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the worst case for bytecode caches
    assert tasks_py.stat().st_size == stat.st_size and tasks_py.stat().st_mtime_ns == stat.st_mtime_ns
    reg.reload()
    assert reg.task("edit", "value").func({}, {}) == {"v": 2}
    assert not list(folder.rglob("__pycache__"))


def test_reload_picks_up_new_removed_functions_and_folders(reg: Registry, folder: Path) -> None:
    write_integration(folder, "one", "def a(credentials, params):\n    return {}\n")
    write_integration(folder, "two", "def b(credentials, params):\n    return {}\n")
    assert reg.modules() == ["one", "two"] and list(reg.tasks("one")) == ["a"]
    (folder / "one" / "tasks.py").write_text(
        "def c(credentials, params):\n    return {}\ndef d(credentials, params):\n    return {}\n"
    )
    shutil.rmtree(folder / "two")
    write_integration(folder, "three", "def e(credentials, params):\n    return {}\n")
    reg.reload()
    assert reg.modules() == ["one", "three"] and sorted(reg.tasks("one")) == ["c", "d"]
    with pytest.raises(UnknownTask):
        reg.task("one", "a")
    with pytest.raises(ModuleNotFound, match="Known modules: one, three"):
        reg.module("two")


def test_a_module_that_fails_to_import_is_reported_and_the_others_load(reg: Registry, folder: Path) -> None:
    write_integration(folder, "good", "def ok(credentials, params):\n    return {}\n")
    write_integration(folder, "syntax", "def broken(credentials, params):\n    return (\n")
    write_integration(folder, "raising", "import os\n\nraise RuntimeError('no config file')\n")
    write_integration(folder, "exiting", "import sys\nsys.exit(3)\n")
    write_integration(folder, "missing_dep", "import not_installed_anywhere_xyz\n")
    assert reg.modules() == ["good"]
    errors = reg.errors()
    assert set(errors) == {"syntax", "raising", "exiting", "missing_dep"}
    assert "SyntaxError" in errors["syntax"] and "tasks.py, line 2" in errors["syntax"]
    assert "(at tasks.py line 3): RuntimeError: no config file" in errors["raising"]
    assert "SystemExit: 3" in errors["exiting"]
    assert "ModuleNotFoundError" in errors["missing_dep"] and "not_installed_anywhere_xyz" in errors["missing_dep"]
    with pytest.raises(ModuleNotFound, match="RuntimeError: no config file"):
        reg.task("raising", "anything")
    (folder / "raising" / "tasks.py").write_text("def fixed(credentials, params):\n    return {'ok': True}\n")
    reg.reload()
    assert reg.task("raising", "fixed").func({}, {}) == {"ok": True} and "raising" not in reg.errors()


def test_discovery_is_lazy_and_imports_only_what_is_asked_for(reg: Registry, folder: Path, tmp_path: Path) -> None:
    log = tmp_path / "imported.log"
    for name in ("first", "second", "third"):
        marker_module(folder, name, log)
    lazy = Registry([folder], builtins=False, entry_points=False)
    lazy.sources()
    repr(lazy)
    assert imported(log) == []
    assert lazy.task("second", "ping").func({}, {}) == {"success": True, "message": "second"}
    assert imported(log) == ["second"]
    lazy.task("second", "ping")
    assert imported(log) == ["second"]
    assert lazy.modules() == ["first", "second", "third"]
    assert sorted(imported(log)) == ["first", "second", "third"]


def test_importing_flowkit_discovers_nothing(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys, flowkit as fk
        ws = fk.Workspace({str(tmp_path / "ws")!r})
        ws.registry
        print(sorted(n for n in sys.modules if n.startswith("flowkit._plugins") or n == "jsonschema"))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_reload_while_other_threads_look_up_and_call_tasks(reg: Registry, folder: Path) -> None:
    write_integration(folder, "live", "def value(credentials, params):\n    return {'v': 0}\n")
    write_integration(folder, "steady", "def value(credentials, params):\n    return {'v': 'steady'}\n")
    stop = threading.Event()
    seen: list[Any] = []
    failures: list[BaseException] = []

    def look_up() -> None:
        while not stop.is_set():
            try:
                seen.append(reg.task("live", "value").func({}, {})["v"])
                assert reg.task("steady", "value").func({}, {}) == {"v": "steady"}
                assert "live" in reg.modules()
            except BaseException as exc:  # noqa: B036 - any failure in a reader fails the test
                failures.append(exc)
                return

    readers = [threading.Thread(target=look_up) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for version in range(1, 16):
            # Saved as editors do (write aside, rename over): a reader never sees a half-written file,
            # which would be a torn read of the user's save, not a registry race.
            fresh = folder / "live" / ".tasks.py.new"
            fresh.write_text(f"def value(credentials, params):\n    return {{'v': {version}}}\n")
            os.replace(fresh, folder / "live" / "tasks.py")
            reg.reload()
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    assert failures == []
    assert seen and set(seen) <= set(range(16))
    assert reg.task("live", "value").func({}, {}) == {"v": 15}


def test_two_workspaces_with_same_named_modules_do_not_mix(tmp_path: Path) -> None:
    first, second = fk.Workspace(tmp_path / "one"), fk.Workspace(tmp_path / "two")
    for ws, label in ((first, "one"), (second, "two")):
        write_integration(ws.path / "integrations", "shared", f"def who(credentials, params):\n    return {label!r}\n")
    spec_one = first.registry.task("shared", "who")
    spec_two = second.registry.task("shared", "who")
    second.registry.reload()
    assert (spec_one.func({}, {}), spec_two.func({}, {})) == ("one", "two")
    assert first.registry.task("shared", "who").func({}, {}) == "one"
