"""Workspace rules: where it lives, validated credentials, refusals to delete what is in use, masked reprs."""

from __future__ import annotations

import hashlib
import pprint
from pathlib import Path

import pytest
from helpers import find_canary, write_integration

import flowkit as fk
from flowkit import errors

DEMO_TASKS = '''
def ping(credentials, params):
    """Answer."""
    return {"success": True, "message": "pong"}
'''

DEMO_PARAMS = [
    fk.Param("token", kind="password", required=True),
    fk.Param("url", kind="text", required=True),
    fk.Param("port", kind="integer", default=443),
    fk.Param("ratio", kind="number"),
    fk.Param("debug", kind="boolean"),
    fk.Param("region", kind="choice", choices=["eu", "us"]),
    fk.Param("options", kind="json"),
    fk.Param("backup_token", kind="password"),
]


@pytest.fixture
def demo(ws: fk.Workspace) -> fk.Workspace:
    write_integration(ws.path / "integrations", "demo", DEMO_TASKS)
    ws.types.create("demo", description="A demo", params=DEMO_PARAMS)
    return ws


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def workflow_using(integration: str, name: str = "Uses it") -> fk.Workflow:
    wf = fk.Workflow(name)
    wf.add_node("ping_it", integration=integration, task="ping")
    return wf


# -- where a workspace lives -------------------------------------------------------------
def test_a_workspace_is_a_folder_created_on_first_use(tmp_path: Path) -> None:
    ws = fk.Workspace(tmp_path / "deep" / "new")
    assert ws.path == (tmp_path / "deep" / "new").resolve()
    assert (ws.path / "integrations").is_dir()
    assert repr(ws) == f"Workspace({str(ws.path)!r})"
    assert ws.info() == {
        "path": str(ws.path),
        "types": 0,
        "integrations": 0,
        "workflows": 0,
        "key_file": ws.info()["key_file"],
    }


def test_the_default_workspace_is_the_environment_variable_or_dot_flowkit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert fk.Workspace().path == tmp_path.resolve() / ".flowkit"
    monkeypatch.setenv("FLOWKIT_WORKSPACE", str(tmp_path / "from-env"))
    assert fk.Workspace().path == (tmp_path / "from-env").resolve()
    assert fk.Workspace(tmp_path / "explicit").path == (tmp_path / "explicit").resolve()


# -- types -------------------------------------------------------------------------------
def test_types_create_get_list_and_refuse_duplicates(demo: fk.Workspace) -> None:
    assert demo.types.get("demo") == fk.IntegrationType("demo", "A demo", DEMO_PARAMS)
    with pytest.raises(errors.AlreadyExistsError, match="'demo' already exists"):
        demo.types.create("demo", params=[])
    assert [t.name for t in demo.types.list()] == ["demo"]
    with pytest.raises(errors.TypeNotFound, match="ws.types.create"):
        demo.types.get("nope")


def test_a_type_needs_an_integration_module_unless_told_otherwise(ws: fk.Workspace) -> None:
    with pytest.raises(errors.ModuleNotFound):
        ws.types.create("nomodule")
    assert ws.types.list() == []
    assert ws.types.create("nomodule", check_module=False).name == "nomodule"


@pytest.mark.parametrize("name", ["../../etc", "has space", "class", "x\n", "__init__"])
def test_a_type_with_a_bad_name_is_refused_before_any_lookup(ws: fk.Workspace, name: str) -> None:
    with pytest.raises(errors.InvalidName):
        ws.types.create(name)
    assert not ws.store.path("types").exists()


def test_a_type_in_use_cannot_be_deleted_and_the_message_names_its_users(demo: fk.Workspace) -> None:
    for name in ("Zeta", "Alpha"):
        demo.integrations.create(name, type="demo", credentials={"token": "t", "url": "u"})
    with pytest.raises(errors.InUseError) as caught:
        demo.types.delete("demo")
    assert caught.value.users == ["Alpha", "Zeta"]
    assert "Alpha, Zeta" in str(caught.value)
    assert demo.types.get("demo").name == "demo"
    demo.integrations.delete("Alpha")
    demo.integrations.delete("Zeta")
    demo.types.delete("demo")
    assert demo.types.list() == []
    with pytest.raises(errors.TypeNotFound):
        demo.types.delete("demo")


# -- integrations: validated against their type, nothing saved on error ----------------------
def test_an_integration_is_stored_with_defaults_and_read_back(demo: fk.Workspace) -> None:
    created = demo.integrations.create(
        "My Demo",
        type="demo",
        credentials={
            "token": "tok",
            "url": "https://x",
            "ratio": 0.5,
            "debug": True,
            "region": "eu",
            "options": {"a": [1]},
            "backup_token": "",
        },
    )
    stored = fk.Workspace(demo.path).integrations.get("My Demo")
    expected = {
        "token": "tok",
        "url": "https://x",
        "port": 443,
        "ratio": 0.5,
        "debug": True,
        "region": "eu",
        "options": {"a": [1]},
    }
    assert stored.credentials.reveal() == expected == created.credentials.reveal()
    assert stored.type == "demo" and stored.name == "My Demo"
    assert sorted(stored.credentials) == sorted(expected)


@pytest.mark.parametrize(
    ("credentials", "words"),
    [
        ({"url": "u"}, "'token' is required"),
        ({"token": "", "url": "u"}, "'token' is required"),
        ({"token": "t"}, "'url' is required"),
        ({"token": "t", "url": "u", "colour": "red"}, "'colour' is not a known field"),
        ({"token": 123, "url": "u"}, "'token' must be text"),
        ({"token": "t", "url": "u", "port": "443"}, "'port' must be a whole number"),
        ({"token": "t", "url": "u", "port": 4.5}, "'port' must be a whole number"),
        ({"token": "t", "url": "u", "port": True}, "'port' must be a whole number"),
        ({"token": "t", "url": "u", "ratio": "half"}, "'ratio' must be a number"),
        ({"token": "t", "url": "u", "debug": "yes"}, "'debug' must be true or false"),
        ({"token": "t", "url": "u", "region": "mars"}, "'region' must be one of"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_credentials_are_refused_with_the_field_and_nothing_is_saved(
    demo: fk.Workspace, credentials: dict, words: str
) -> None:
    before = digests(demo.path)
    with pytest.raises(errors.CredentialsError) as caught:
        demo.integrations.create("Bad", type="demo", credentials=credentials)
    assert words in str(caught.value)
    assert "'Bad'" in str(caught.value)
    assert digests(demo.path) == before
    assert demo.integrations.list() == []


def test_every_credential_problem_is_listed_at_once(demo: fk.Workspace) -> None:
    with pytest.raises(errors.CredentialsError) as caught:
        demo.integrations.create("Bad", type="demo", credentials={"port": "x", "nope": 1})
    message = str(caught.value)
    for words in ("'token' is required", "'url' is required", "'port' must be", "'nope' is not a known"):
        assert words in message


def test_other_bad_integration_input_saves_nothing(demo: fk.Workspace) -> None:
    before = digests(demo.path)
    with pytest.raises(errors.TypeNotFound):
        demo.integrations.create("X", type="ghost", credentials={})
    with pytest.raises(errors.InvalidName):
        demo.integrations.create(" padded", type="demo", credentials={"token": "t", "url": "u"})
    with pytest.raises(errors.InvalidName):
        demo.integrations.create("line\nbreak", type="demo", credentials={"token": "t", "url": "u"})
    with pytest.raises(errors.NotJSONError):
        demo.integrations.create("X", type="demo", credentials={"token": "t", "url": "u", "options": {1: 2}})
    with pytest.raises(errors.CredentialsError):
        demo.integrations.create("X", type="demo", credentials=["token", "t"])  # type: ignore[arg-type]
    assert digests(demo.path) == before


def test_a_duplicate_integration_is_refused_and_the_original_kept(demo: fk.Workspace) -> None:
    demo.integrations.create("Mine", type="demo", credentials={"token": "first", "url": "u"})
    with pytest.raises(errors.AlreadyExistsError):
        demo.integrations.create("Mine", type="demo", credentials={"token": "second", "url": "u"})
    assert demo.integrations.get("Mine").credentials["token"] == "first"
    assert len(demo.store.all("integrations")) == 1


def test_update_keeps_a_blank_password_and_validates_the_rest(demo: fk.Workspace) -> None:
    demo.integrations.create("Mine", type="demo", credentials={"token": "keep-me", "url": "u"})
    demo.integrations.update("Mine", credentials={"token": "", "url": "v", "port": 8080})
    assert demo.integrations.get("Mine").credentials.reveal() == {"token": "keep-me", "url": "v", "port": 8080}
    before = digests(demo.path)
    with pytest.raises(errors.CredentialsError, match="'port' must be a whole number"):
        demo.integrations.update("Mine", credentials={"port": "eighty"})
    with pytest.raises(errors.IntegrationNotFound):
        demo.integrations.update("Ghost", credentials={})
    assert digests(demo.path) == before


def test_an_integration_used_by_a_saved_workflow_cannot_be_deleted(demo: fk.Workspace) -> None:
    demo.integrations.create("Mine", type="demo", credentials={"token": "t", "url": "u"})
    demo.workflows.save(workflow_using("Mine", "Second"))
    demo.workflows.save(workflow_using("Mine", "First"))
    with pytest.raises(errors.InUseError) as caught:
        demo.integrations.delete("Mine")
    assert caught.value.users == ["First", "Second"]
    assert "First, Second" in str(caught.value)
    assert demo.integrations.get("Mine").credentials["token"] == "t"
    demo.workflows.delete("First")
    demo.workflows.delete("Second")
    demo.integrations.delete("Mine")
    with pytest.raises(errors.IntegrationNotFound):
        demo.integrations.get("Mine")
    with pytest.raises(errors.IntegrationNotFound):
        demo.integrations.delete("Mine")


# -- workflows ---------------------------------------------------------------------------------
def test_workflows_save_as_new_versions_and_read_back_equal(demo: fk.Workspace) -> None:
    demo.integrations.create("Mine", type="demo", credentials={"token": "t", "url": "u"})
    wf = workflow_using("Mine", "Flow")
    wf.add_node("again", integration="Mine", task="ping", retries=1)
    wf.connect("ping_it", "again")
    assert demo.workflows.save(wf).version == 1
    assert demo.workflows.save(wf).version == 2
    again = fk.Workspace(demo.path).workflows.get("Flow")
    assert again == wf and again.version == 2
    assert [w.name for w in demo.workflows.list()] == ["Flow"]
    demo.workflows.delete("Flow")
    with pytest.raises(errors.WorkflowNotFound):
        demo.workflows.get("Flow")
    with pytest.raises(errors.WorkflowNotFound):
        demo.workflows.delete("Flow")


def test_a_workflow_with_errors_is_refused_and_nothing_is_written(demo: fk.Workspace) -> None:
    before = digests(demo.path)
    with pytest.raises(errors.WorkflowInvalid) as caught:
        demo.workflows.save(workflow_using("Not There"))
    assert "Not There" in str(caught.value) and caught.value.problems
    assert digests(demo.path) == before


# -- masked everywhere -------------------------------------------------------------------------
def test_every_repr_of_an_integration_masks_its_credentials(demo: fk.Workspace, canary: str) -> None:
    demo.integrations.create("Mine", type="demo", credentials={"token": canary, "url": f"https://{canary}"})
    integration = demo.integrations.get("Mine")
    listed = demo.integrations.list()
    shown = [
        repr(integration),
        str(integration),
        f"{integration}",
        repr(integration.credentials),
        str(integration.credentials),
        repr(listed),
        str(listed),
        pprint.pformat(listed),
        pprint.pformat({"x": integration}),
        repr(demo),
        repr(demo.keyring()),
    ]
    integration.credentials.reveal()  # decrypted values held in memory: still never shown
    shown += [repr(integration), repr(demo.integrations.list())]
    assert find_canary(canary, *shown) == []
    assert "***" in repr(integration)


def test_errors_about_credentials_never_quote_their_values(demo: fk.Workspace, canary: str) -> None:
    attempts = [
        {"token": canary},
        {"token": canary, "url": "u", "unknown": canary},
        {"token": canary, "url": "u", "port": canary},
        {"token": canary, "url": "u", "debug": canary},
        {"token": canary, "url": "u", "options": {"n": float("nan"), "s": canary}},
    ]
    messages = []
    for credentials in attempts:
        with pytest.raises(errors.ValidationError) as caught:
            demo.integrations.create("Leaky", type="demo", credentials=credentials)
        messages.append(str(caught.value))
    assert find_canary(canary, *messages) == []
