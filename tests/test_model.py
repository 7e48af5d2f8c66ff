"""The nouns: dict round trips, names, and a workflow that stays a DAG at every step."""

from __future__ import annotations

import json

import pytest

import flowkit as fk
from flowkit import errors
from flowkit.jsonvalue import dumps, loads
from flowkit.model import Credentials, check_identifier, check_label, new_run_id


def via_json(data: dict) -> dict:
    """What a dict becomes after a trip through the store."""
    return loads(dumps(data))


# -- round trips ---------------------------------------------------------------------
PARAMS = [
    fk.Param("url", kind="text", required=True, help="Where to send"),
    fk.Param("token", kind="password", required=True),
    fk.Param("retries", kind="integer", default=3),
    fk.Param("ratio", kind="number", default=0.5),
    fk.Param("verbose", kind="boolean", default=False),
    fk.Param("level", kind="choice", choices=["low", "high"], default="low"),
    fk.Param("extra", kind="json", default={"a": [1, 2, {"b": None}]}),
]


@pytest.mark.parametrize("param", PARAMS, ids=lambda p: p.kind)
def test_a_param_round_trips(param: fk.Param) -> None:
    again = fk.Param.from_dict(via_json(param.to_dict()))
    assert again == param
    assert again.to_dict() == param.to_dict()


def test_an_integration_type_round_trips_with_every_kind_of_param() -> None:
    itype = fk.IntegrationType("demo", "A demo", PARAMS)
    again = fk.IntegrationType.from_dict(via_json(itype.to_dict()))
    assert again == itype
    assert again.secret_fields == ["token"]
    assert again.param("level").choices == ["low", "high"]
    with pytest.raises(errors.NotFoundError, match="no parameter"):
        again.param("nope")


def test_a_workflow_round_trips_with_nodes_edges_and_settings() -> None:
    wf = fk.Workflow("Release notes", "Build and post them", version=4)
    wf.add_node(
        "fetch",
        integration="My GitHub",
        task="list_commits",
        params={"repo": "a/b", "n": 20},
        retries=2,
        timeout=30,
        retry_delay=0.5,
    )
    wf.add_node("render", integration="Templates", task="render", params={"items": "{{ fetch.items }}"})
    wf.add_node("post", integration="My Slack", task="send_message", params={"text": "{{ render.text }}"}, timeout=5.5)
    wf.add_node("archive", integration="Files", task="write", params={"nested": {"deep": [1, {"x": None}]}})
    wf.connect("fetch", "render")
    wf.connect("render", "post")
    wf.connect("render", "archive")
    data = wf.to_dict()
    again = fk.Workflow.from_dict(via_json(data))
    assert again == wf
    assert again.to_dict() == data
    assert again.version == 4 and again.description == "Build and post them"
    assert again.node("fetch").retries == 2 and again.node("fetch").timeout == 30
    assert again.node("post").timeout == 5.5
    assert sorted(again.edges) == [("fetch", "render"), ("render", "archive"), ("render", "post")]
    copy = wf.copy()
    copy.remove_node("archive")
    copy.node("fetch").params["repo"] = "changed/elsewhere"
    assert "archive" in wf.nodes and wf.node("fetch").params["repo"] == "a/b"  # a copy is independent
    params = {"k": 1}
    wf.add_node("late", integration="I", task="t", params=params)
    params["k"] = 2
    assert wf.node("late").params == {"k": 1}


def test_a_node_round_trips_and_ignores_unknown_keys() -> None:
    node = fk.Node("step_1", "My Slack", "send", {"a": 1}, retries=1, timeout=2.0, retry_delay=0)
    assert fk.Node.from_dict(via_json(node.to_dict())) == node
    assert fk.Node.from_dict({**node.to_dict(), "drawn_at": [1, 2]}) == node


def test_a_run_and_its_node_runs_round_trip() -> None:
    wf = fk.Workflow("wf")
    wf.add_node("a", integration="I", task="t")
    run = fk.Run(
        workflow="wf",
        version=3,
        snapshot=wf.to_dict(),
        inputs={"who": "team", "n": 2},
        trigger="cli",
        status="failed",
        finished_at=None,
        error="node b failed",
        report="r.ipynb",
        resumed_from="20260101T000000-000000-abcdef",
        pid=123,
        host="box",
    )
    run.finished_at = run.started_at + 2.5
    run.nodes = {
        "a": fk.NodeRun(
            "a",
            status="success",
            attempts=2,
            started_at=1.0,
            finished_at=1.25,
            params={"x": 1},
            result={"success": True, "message": "ok", "items": [1, 2]},
        ),
        "b": fk.NodeRun("b", status="failed", attempts=1, started_at=1.3, finished_at=1.4, error="boom"),
        "c": fk.NodeRun("c", status="skipped"),
        "d": fk.NodeRun("d", status="success", reused=True),
    }
    data = run.to_dict()
    assert data["nodes"]["a"]["duration"] == 0.25
    again = fk.Run.from_dict(via_json(data))
    assert again == run
    assert again.duration == 2.5 and not again.ok
    assert again.nodes["c"].duration is None
    assert again.workflow_snapshot() == wf
    assert again.summary() == {
        "id": run.id,
        "workflow": "wf",
        "status": "failed",
        "trigger": "cli",
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "pid": 123,
        "host": "box",
        "version": again.version,
    }
    assert "failed=1" in repr(again) and "skipped=1" in repr(again) and "success=2" in repr(again)


def test_run_ids_are_unique_and_sort_by_start_time() -> None:
    ids = [new_run_id() for _ in range(200)]
    assert len(set(ids)) == 200
    stamps = [run_id[:22] for run_id in ids]  # 20261126T061234-123456: seconds and microseconds
    assert stamps == sorted(stamps)


# -- cycles --------------------------------------------------------------------------
def chain(*names: str) -> fk.Workflow:
    wf = fk.Workflow("wf")
    for name in names:
        wf.add_node(name, integration="I", task="t")
    for upstream, downstream in zip(names, names[1:], strict=False):
        wf.connect(upstream, downstream)
    return wf


@pytest.mark.parametrize(
    ("names", "closing", "cycle"),
    [
        (("a",), ("a", "a"), ["a", "a"]),
        (("a", "b"), ("b", "a"), ["b", "a", "b"]),
        (("a", "b", "c"), ("c", "a"), ["c", "a", "b", "c"]),
        (("a", "b", "c", "d"), ("d", "b"), ["d", "b", "c", "d"]),
    ],
    ids=["self-loop", "2-cycle", "3-cycle", "cycle-inside"],
)
def test_an_edge_that_closes_a_cycle_is_refused_with_the_path(names, closing, cycle) -> None:
    wf = chain(*names)
    before = wf.to_dict()
    with pytest.raises(errors.CycleError) as caught:
        wf.connect(*closing)
    assert caught.value.cycle == cycle
    assert " → ".join(cycle) in str(caught.value)
    assert wf.to_dict() == before  # nothing was added
    assert wf.order() == list(names)


def test_a_stored_workflow_with_a_cycle_is_refused_on_load() -> None:
    data = chain("a", "b").to_dict()
    data["edges"].append(["b", "a"])
    with pytest.raises(errors.CycleError):
        fk.Workflow.from_dict(data)


def test_edges_need_existing_nodes_and_a_diamond_is_fine() -> None:
    wf = chain("a", "b")
    with pytest.raises(errors.NotFoundError, match="no node"):
        wf.connect("a", "ghost")
    wf.add_node("c", integration="I", task="t")
    wf.add_node("d", integration="I", task="t")
    for edge in (("a", "c"), ("b", "d"), ("c", "d")):
        wf.connect(*edge)
    assert wf.upstream("d") == {"a", "b", "c"}
    assert wf.order()[0] == "a" and wf.order()[-1] == "d"


# -- editing -------------------------------------------------------------------------
def test_rename_keeps_edges_and_settings() -> None:
    wf = chain("a", "b", "c")
    wf.update_node("b", params={"k": "v"}, retries=3)
    wf.rename_node("b", "middle")
    assert sorted(wf.edges) == [("a", "middle"), ("middle", "c")]
    node = wf.node("middle")
    assert node.name == "middle" and node.params == {"k": "v"} and node.retries == 3
    assert "b" not in wf.nodes
    with pytest.raises(errors.AlreadyExistsError):
        wf.rename_node("a", "c")
    with pytest.raises(errors.InvalidName):
        wf.rename_node("a", "not valid")
    with pytest.raises(errors.NotFoundError):
        wf.rename_node("ghost", "x")
    assert sorted(wf.nodes) == ["a", "c", "middle"]


def test_remove_node_drops_its_edges() -> None:
    wf = chain("a", "b", "c")
    wf.remove_node("b")
    assert sorted(wf.nodes) == ["a", "c"] and wf.edges == []
    with pytest.raises(errors.NotFoundError):
        wf.remove_node("b")
    wf.connect("c", "a")  # no leftover path blocks the reverse edge


def test_disconnect_removes_one_edge_and_refuses_a_missing_one() -> None:
    wf = chain("a", "b", "c")
    wf.disconnect("a", "b")
    assert wf.edges == [("b", "c")]
    with pytest.raises(errors.NotFoundError, match="no such edge"):
        wf.disconnect("a", "b")
    wf.connect("c", "a")  # allowed now: a no longer leads to c


def test_update_node_validates_and_keeps_the_old_node_on_error() -> None:
    wf = chain("a")
    with pytest.raises(errors.ValidationError):
        wf.update_node("a", name="b")
    with pytest.raises(errors.NotJSONError):
        wf.update_node("a", params={"when": {1, 2}})
    with pytest.raises(errors.ValidationError):
        wf.update_node("a", retries=-1)
    assert wf.node("a") == fk.Node("a", "I", "t")


def test_a_duplicate_node_name_is_refused() -> None:
    wf = chain("a")
    with pytest.raises(errors.AlreadyExistsError, match="already has a node named 'a'"):
        wf.add_node("a", integration="J", task="u")
    assert wf.node("a").integration == "I"


# -- names and settings ----------------------------------------------------------------
BAD_IDENTIFIERS = [
    "",
    "1abc",
    "a-b",
    "a b",
    "a.b",
    "class",
    "None",
    "lambda",
    "__init__",
    "__import__",
    "name\n",
    "name\r",
    "\nname",
    "na\x00me",
    "x" * 101,
    "é",
    5,
    None,
    "../x",
    "a/b",
]


@pytest.mark.parametrize("name", BAD_IDENTIFIERS, ids=repr)
def test_invalid_node_names_are_refused(name) -> None:
    with pytest.raises(errors.InvalidName):
        fk.Workflow("wf").add_node(name, integration="I", task="t")
    with pytest.raises(errors.InvalidName):
        fk.Param(name)
    with pytest.raises(errors.InvalidName):
        fk.IntegrationType(name)


@pytest.mark.parametrize("name", ["a", "_private", "snake_case_1", "A1", "x" * 100, "__x", "x__"])
def test_valid_identifiers_are_accepted(name: str) -> None:
    assert check_identifier(name, "Node name") == name
    assert fk.Node(name, "I", "t").name == name


@pytest.mark.parametrize("name", ["", "   ", " lead", "trail ", "a\nb", "tab\there", "x" * 101, 7])
def test_invalid_display_names_are_refused(name) -> None:
    with pytest.raises(errors.InvalidName):
        check_label(name, "Workflow name")
    with pytest.raises(errors.InvalidName):
        fk.Workflow(name)
    with pytest.raises(errors.InvalidName):
        fk.Integration(name, "demo")


INVISIBLE = {
    "bidi override": "Pay\u202eyap",
    "bidi isolate": "Pay\u2066x",
    "left-to-right mark": "Pay\u200e",
    "zero-width space": "Pa\u200by",
    "zero-width joiner": "Pa\u200dy",
    "byte order mark": "\ufeffPay",
    "C1 control (NEL)": "Pa\x85y",
    "C1 control (CSI)": "Pa\x9by",
    "line separator": "Pa\u2028y",
}


@pytest.mark.parametrize("name", list(INVISIBLE.values()), ids=list(INVISIBLE))
def test_names_with_invisible_or_control_characters_are_refused(name: str) -> None:
    with pytest.raises(errors.InvalidName, match="invisible or control"):
        check_label(name, "Workflow name")
    with pytest.raises(errors.InvalidName):
        fk.Workflow(name)
    with pytest.raises(errors.InvalidName):
        fk.Integration(name, "demo")
    with pytest.raises(errors.InvalidName):
        fk.Workflow("ok").add_node("n", integration=name, task="t")


def test_names_are_normalised_to_nfc_so_twins_cannot_coexist(ws: fk.Workspace) -> None:
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"
    assert check_label(decomposed, "Workflow name") == composed
    assert fk.Workflow(decomposed).name == composed
    assert fk.Integration(decomposed, "demo").name == composed
    node = fk.Workflow("w").add_node("n", integration=decomposed, task="t")
    assert node.integration == composed
    ws.types.create("demo", check_module=False)
    ws.integrations.create(composed, type="demo", credentials={})
    with pytest.raises(errors.AlreadyExistsError):
        ws.integrations.create(decomposed, type="demo", credentials={})
    assert ws.integrations.get(decomposed).name == composed
    assert [item.name for item in ws.integrations.list()] == [composed]


def test_display_names_may_hold_spaces_and_unicode() -> None:
    assert fk.Workflow("Notify the team ✓").name == "Notify the team ✓"
    assert fk.Integration("My Slack Workspace", "slack").name == "My Slack Workspace"


@pytest.mark.parametrize(
    "settings",
    [
        {"retries": -1},
        {"retries": True},
        {"retries": 1.5},
        {"timeout": 0},
        {"timeout": -2},
        {"timeout": True},
        {"timeout": "30"},
        {"retry_delay": -1},
        {"params": [1, 2]},
    ],
    ids=repr,
)
def test_bad_node_settings_are_refused(settings: dict) -> None:
    with pytest.raises(errors.ValidationError):
        fk.Workflow("wf").add_node("a", integration="I", task="t", **settings)


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "p", "kind": "secret"},
        {"name": "p", "kind": "choice"},
        {"name": "p", "kind": "password", "default": "hunter2"},
        {"name": "p", "default": float("nan")},
        {"name": "p", "colour": "red"},
        {"kind": "text"},
    ],
    ids=repr,
)
def test_bad_param_specs_are_refused(spec: dict) -> None:
    with pytest.raises(errors.ValidationError):
        fk.Param.from_dict(spec)


def test_a_param_declared_twice_is_refused() -> None:
    with pytest.raises(errors.InvalidName, match="declared twice"):
        fk.IntegrationType("demo", params=[fk.Param("a"), {"name": "a", "kind": "password"}])


# -- masked credentials ------------------------------------------------------------------
def test_credentials_never_show_their_values(canary: str) -> None:
    creds = Credentials({"token": canary, "user": "bob"})
    integration = fk.Integration("My Thing", "demo", {"token": canary})
    shown = [
        repr(creds),
        str(creds),
        f"{creds}",
        f"{creds!r}",
        repr(integration),
        str(integration),
        f"{integration}",
        repr([integration, integration]),
        str({"i": integration}),
        json.dumps({"i": repr(integration)}),
    ]
    for text in shown:
        assert canary not in text
    assert "'token': '***'" in repr(creds) and "My Thing" in repr(integration)
    assert creds["token"] == canary and creds.reveal() == {"token": canary, "user": "bob"}
    assert integration.credentials["token"] == canary


def test_lazy_credentials_list_their_fields_without_decrypting() -> None:
    calls = []

    def load() -> dict:
        calls.append(1)
        return {"token": "abc"}

    creds = Credentials(fields=["token"], loader=load)
    assert list(creds) == ["token"] and len(creds) == 1 and repr(creds) == "{'token': '***'}"
    assert calls == []
    assert creds["token"] == "abc" and calls == [1]
    assert creds["token"] == "abc" and calls == [1]  # decrypted once
    with pytest.raises(errors.ValidationError):
        Credentials(fields=["x"])["x"]


def test_schedule_and_workflow_names_are_nfc_so_a_schedule_still_guards_its_workflow(ws: fk.Workspace) -> None:
    """A schedule named, or naming its workflow, in NFD finds and protects the NFC workflow."""
    from engine_support import add_tools

    add_tools(ws)
    flow = fk.Workflow("Caf\u00e9")
    flow.add_node("n", integration="Tools", task="noop")
    ws.workflows.save(flow)
    schedule = ws.schedules.create("Nui\u0301t", workflow="Cafe\u0301", cron="0 2 * * *")
    assert (schedule.name, schedule.workflow) == ("Nu\u00edt", "Caf\u00e9")
    assert ws.schedules.get("Nu\u00edt").workflow == "Caf\u00e9"
    with pytest.raises(errors.InUseError):
        ws.workflows.delete("Caf\u00e9")
    ws.schedules.pause("Nui\u0301t")
    ws.schedules.delete("Nui\u0301t")
    ws.workflows.delete("Cafe\u0301")
    assert ws.workflows.list() == []


def test_a_valid_label_is_not_taken_for_a_valid_identifier_afterwards() -> None:
    from flowkit.model.names import InvalidName, check_identifier, check_label

    check_label("not_an id", "Integration")  # a display name may hold spaces
    with pytest.raises(InvalidName, match="is not valid"):
        check_identifier("not_an id", "Node name")
    check_identifier("fine_name", "Node name")  # remembered once valid
    with pytest.raises(InvalidName, match="reserved"):
        check_identifier("class", "Node name")
