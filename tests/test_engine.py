"""The engine: order, parallelism, retries, failure isolation, events, run records, resume and only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from engine_support import add_tools, chain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowkit as fk
from flowkit.errors import NotFoundError, ValidationError, WorkflowInvalid


@pytest.fixture
def tools(any_ws: fk.Workspace) -> fk.Workspace:
    """The engine's tests run on both stores (files and memory): the engine sees only the RunLog."""
    add_tools(any_ws)
    return any_ws


def test_a_run_passes_results_downstream_and_is_recorded(tools: fk.Workspace) -> None:
    wf = fk.Workflow("pass")
    wf.add_node("first", integration="Tools", task="echo", params={"items": "{{ inputs.items }}", "n": 2})
    wf.add_node(
        "second",
        integration="Tools",
        task="echo",
        params={"got": "{{ first.params.items }}", "text": "n={{ first.params.n }}"},
    )
    wf.connect("first", "second")
    tools.workflows.save(wf)

    run = tools.run("pass", inputs={"items": [1, 2, 3]})

    assert run.status == "success" and run.ok
    second = run.nodes["second"]
    assert second.params == {"got": [1, 2, 3], "text": "n=2"}
    assert second.result["params"] == {"got": [1, 2, 3], "text": "n=2"}
    assert second.attempts == 1 and second.duration is not None and second.duration >= 0
    assert (run.version, run.trigger, run.inputs) == (1, "api", {"items": [1, 2, 3]})
    assert run.pid == os.getpid() and run.host == tools.host
    assert run.snapshot == wf.to_dict() | {"version": 1}
    stored = tools.runs.get(run.id)
    assert stored.to_dict() == run.to_dict()
    if tools.store.path("types") is not None:  # on files: the record as it started, and its events
        assert sorted(path.name for path in (tools.path / "runs").glob(f"{run.id}.*")) == [
            f"{run.id}.events.jsonl",  # its nodes as they ended, then its end
            f"{run.id}.json",
        ]


def test_inline_executor_gives_the_same_results(tools: fk.Workspace) -> None:
    wf = chain("inline", ["echo", "echo", "echo"])
    for executor in ("inline", fk.InlineExecutor()):
        run = tools.run(wf, executor=executor)
        assert run.status == "success"
        assert [node.status for node in run.nodes.values()] == ["success"] * 3


def test_events_come_in_order_on_the_calling_thread(tools: fk.Workspace) -> None:
    wf = chain("events", ["noop", "noop"])
    seen: list[tuple[str, str | None, str | None, str]] = []

    def record(event: fk.Event) -> None:
        status = event.node_run.status if event.node_run else None
        seen.append((event.kind, event.node, status, threading.current_thread().name))

    def broken(event: fk.Event) -> None:
        raise RuntimeError("a broken progress bar")

    run = tools.run(wf, on_event=[broken, record])

    assert run.status == "success"
    assert [entry[:3] for entry in seen] == [
        ("run_started", None, None),
        ("node_started", "n0", "running"),
        ("node_finished", "n0", "success"),
        ("node_started", "n1", "running"),
        ("node_finished", "n1", "success"),
        ("run_finished", None, None),
    ]
    assert {entry[3] for entry in seen} == {threading.current_thread().name}


def _random_dag(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    size = draw(st.integers(min_value=2, max_value=9))
    edges = [(a, b) for a in range(size) for b in range(a + 1, size) if draw(st.booleans())]
    return size, edges


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dag=st.composite(_random_dag)(), width=st.sampled_from([1, 3, 32]))
def test_every_node_starts_after_all_its_parents_finished(
    tools: fk.Workspace, dag: tuple[int, list[tuple[int, int]]], width: int
) -> None:
    size, edges = dag
    wf = fk.Workflow("random")
    for index in range(size):
        wf.add_node(f"n{index}", integration="Tools", task="clock", params={"seconds": 0.002 * (index % 3)})
    for a, b in edges:
        wf.connect(f"n{a}", f"n{b}")

    run = tools.run(wf, max_workers=width)

    assert run.status == "success"
    results = {name: node.result for name, node in run.nodes.items()}
    for a, b in edges:
        assert results[f"n{b}"]["started"] >= results[f"n{a}"]["finished"], (a, b)


def test_independent_nodes_run_in_parallel(tools: fk.Workspace) -> None:
    wf = fk.Workflow("parallel")
    wf.add_node("left", integration="Tools", task="clock", params={"seconds": 0.3})
    wf.add_node("right", integration="Tools", task="clock", params={"seconds": 0.3})
    run = tools.run(wf)
    assert run.status == "success"
    left, right = run.nodes["left"].result, run.nodes["right"].result
    span = max(left["finished"], right["finished"]) - min(left["started"], right["started"])
    assert span < 0.5, f"two 0.3 s nodes took {span:.2f} s from the first start to the last end"


def test_retries_with_backoff_until_success(tools: fk.Workspace, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    wf = fk.Workflow("retry")
    wf.add_node(
        "flaky",
        integration="Tools",
        task="flaky",
        params={"path": str(counter), "fails": 2},
        retries=3,
        retry_delay=0.05,
    )
    started = time.perf_counter()
    run = tools.run(wf)
    elapsed = time.perf_counter() - started

    node = run.nodes["flaky"]
    assert run.status == "success"
    assert node.attempts == 3 and node.result["attempt"] == 3
    assert elapsed >= 0.05 + 0.1  # back-off: 0.05 s, then 0.1 s
    assert "attempt 1 failed: tools.flaky raised ConnectionError: attempt 1 failed" in node.log
    assert "--- attempt 3 ---" in node.log


def test_retries_run_out(tools: fk.Workspace, tmp_path: Path) -> None:
    wf = fk.Workflow("retry")
    wf.add_node(
        "flaky",
        integration="Tools",
        task="flaky",
        params={"path": str(tmp_path / "c"), "fails": 5},
        retries=1,
        retry_delay=0,
    )
    run = tools.run(wf)
    assert run.status == "failed"
    assert run.nodes["flaky"].attempts == 2
    assert run.nodes["flaky"].error == "tools.flaky raised ConnectionError: attempt 2 failed"


def test_a_failure_skips_descendants_and_independent_branches_finish(tools: fk.Workspace) -> None:
    wf = fk.Workflow("isolation")
    wf.add_node("start", integration="Tools", task="noop")
    wf.add_node("bad", integration="Tools", task="boom")
    wf.add_node("after_bad", integration="Tools", task="noop")
    wf.add_node("later", integration="Tools", task="noop")
    wf.add_node("good", integration="Tools", task="clock", params={"seconds": 0.05})
    wf.add_node("after_good", integration="Tools", task="noop")
    for a, b in [
        ("start", "bad"),
        ("bad", "after_bad"),
        ("after_bad", "later"),
        ("start", "good"),
        ("good", "after_good"),
    ]:
        wf.connect(a, b)

    run = tools.run(wf)

    status = {name: node.status for name, node in run.nodes.items()}
    assert status == {
        "start": "success",
        "bad": "failed",
        "after_bad": "skipped",
        "later": "skipped",
        "good": "success",
        "after_good": "success",
    }
    assert run.status == "failed"
    assert run.error == "1 node(s) failed: bad."
    assert run.nodes["bad"].error == "tools.boom raised RuntimeError: it broke"
    assert "Traceback" in run.nodes["bad"].log and "it broke" in run.nodes["bad"].log
    assert run.nodes["later"].error == "Skipped: the upstream node 'bad' failed."
    assert tools.runs.get(run.id).nodes["later"].status == "skipped"


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("returns_none", "tools.returns_none returned NoneType instead of a dict"),
        ("returns_list", "tools.returns_list returned list instead of a dict"),
        ("returns_str", "tools.returns_str returned str instead of a dict"),
        ("returns_set", "tools.returns_set returned a result that is not JSON: result.tags is a set"),
        ("says_no", "tools.says_no reported failure: quota exceeded"),
        ("exits", "tools.exits raised SystemExit: 3"),
    ],
)
def test_a_task_returning_garbage_fails_its_node_clearly(tools: fk.Workspace, task: str, message: str) -> None:
    wf = fk.Workflow("garbage")
    wf.add_node("bad", integration="Tools", task=task)
    wf.add_node("after", integration="Tools", task="noop")
    wf.add_node("other", integration="Tools", task="noop")
    wf.connect("bad", "after")

    run = tools.run(wf)

    assert run.status == "failed"
    assert run.nodes["bad"].error.startswith(message)
    assert (run.nodes["after"].status, run.nodes["other"].status) == ("skipped", "success")
    recorded = tools.runs.get(run.id).nodes["bad"]
    assert recorded.status == "failed" and recorded.error == run.nodes["bad"].error
    if task == "says_no":
        assert recorded.result == {"success": False, "message": "quota exceeded"}


def test_declared_params_get_defaults_and_are_checked_after_rendering(tools: fk.Workspace) -> None:
    wf = fk.Workflow("declared")
    wf.add_node("fixed", integration="Tools", task="declared", params={"count": 2})
    wf.add_node("templated", integration="Tools", task="declared", params={"count": "{{ inputs.count }}"})
    run = tools.run(wf, inputs={"count": 5})
    assert run.nodes["fixed"].params == {"count": 2, "label": "item"}
    assert run.nodes["templated"].result["params"] == {"count": 5, "label": "item"}

    run = tools.run(wf, inputs={"count": "five"})
    assert run.nodes["fixed"].status == "success"
    assert run.nodes["templated"].status == "failed"
    assert run.nodes["templated"].error == (
        "Node 'templated': rendered params: 'count' must be a whole number, got str."
    )
    assert run.nodes["templated"].attempts == 0


def test_an_unresolved_reference_fails_the_node_naming_it(tools: fk.Workspace) -> None:
    wf = fk.Workflow("unresolved")
    wf.add_node("first", integration="Tools", task="noop")
    wf.add_node("second", integration="Tools", task="echo", params={"title": "{{ first.mesage }}"})
    wf.connect("first", "second")
    run = tools.run(wf)
    assert run.nodes["second"].status == "failed"
    error = run.nodes["second"].error
    assert error.startswith("Node 'second': param 'title': '{{ first.mesage }}' does not resolve:")
    assert "mesage" in error


def test_a_workflow_with_errors_is_refused_before_anything_runs(tools: fk.Workspace) -> None:
    wf = fk.Workflow("broken")
    wf.add_node("a", integration="Nope", task="noop")
    wf.add_node("b", integration="Tools", task="echo", params={"x": "{{ inputs.missing }}"})
    with pytest.raises(WorkflowInvalid) as caught:
        tools.run(wf)
    assert "2 error(s)" in str(caught.value)
    assert {problem.node for problem in caught.value.problems} == {"a", "b"}
    assert tools.runs.list() == []


def test_bad_options_are_refused(tools: fk.Workspace) -> None:
    wf = chain("options", ["noop"])
    with pytest.raises(ValidationError, match="Unknown executor 'gpu'"):
        tools.run(wf, executor="gpu")
    with pytest.raises(ValidationError, match="max_workers"):
        tools.run(wf, executor=fk.InlineExecutor(), max_workers=4)
    with pytest.raises(ValidationError, match="on_event"):
        tools.run(wf, on_event=[42])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="inputs.when is a set"):
        tools.run(wf, inputs={"when": {1}})
    with pytest.raises(ValidationError, match="use ws.resume"):
        tools.run(wf, from_run=tools.run(wf))
    assert len(tools.runs.list()) == 1


def test_resume_reruns_failed_and_skipped_nodes_only(tools: fk.Workspace, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    wf = fk.Workflow("resume")
    wf.add_node("a", integration="Tools", task="echo", params={"v": "{{ inputs.v }}"})
    wf.add_node("b", integration="Tools", task="flaky", params={"path": str(counter), "fails": 1})
    wf.add_node("c", integration="Tools", task="echo", params={"from_a": "{{ a.params.v }}"})
    wf.connect("a", "b")
    wf.connect("b", "c")
    wf.connect("a", "c")
    tools.workflows.save(wf)
    first = tools.run("resume", inputs={"v": 7})
    assert [n.status for n in first.nodes.values()] == ["success", "failed", "skipped"]

    second = tools.resume(first)

    assert second.status == "success" and second.id != first.id
    assert second.resumed_from == first.id and second.version == first.version
    assert second.inputs == {"v": 7}
    assert second.nodes["a"].reused and second.nodes["a"].result == first.nodes["a"].result
    assert not second.nodes["b"].reused and second.nodes["b"].result["attempt"] == 2
    assert second.nodes["c"].result["params"] == {"from_a": 7}
    assert tools.runs.get(second.id).nodes["a"].reused
    assert tools.resume(second.id).nodes["c"].reused  # nothing left to re-run


def test_only_runs_one_node_with_upstream_results_from_an_earlier_run(tools: fk.Workspace) -> None:
    wf = fk.Workflow("only")
    wf.add_node("a", integration="Tools", task="echo", params={"v": 1})
    wf.add_node("b", integration="Tools", task="echo", params={"from_a": "{{ a.params.v }}"})
    wf.add_node("c", integration="Tools", task="echo", params={"from_b": "{{ b.params.from_a }}"})
    wf.connect("a", "b")
    wf.connect("b", "c")
    earlier = tools.run(wf)
    wf.update_node("b", params={"from_a": "{{ a.params.v }}", "changed": True})
    seen: list[str] = []

    again = tools.run(wf, only=["b"], from_run=earlier.id, on_event=lambda e: seen.append(f"{e.kind}:{e.node}"))

    assert again.status == "success"
    assert set(again.nodes) == {"a", "b"}
    assert again.nodes["a"].reused and not again.nodes["b"].reused
    assert again.nodes["b"].result["params"] == {"from_a": 1, "changed": True}
    assert again.resumed_from == earlier.id
    assert seen == ["run_started:None", "node_finished:a", "node_started:b", "node_finished:b", "run_finished:None"]

    with pytest.raises(ValidationError, match="needs the results of a"):
        tools.run(wf, only=["b"])
    with pytest.raises(NotFoundError, match="nope"):
        tools.run(wf, only=["nope"], from_run=earlier)
    failed = tools.run(chain("other", ["noop"]))
    with pytest.raises(ValidationError, match="is of the workflow 'other'"):
        tools.run(wf, only=["c"], from_run=failed)


def test_only_needs_upstream_results_that_succeeded(tools: fk.Workspace) -> None:
    wf = chain("needs", ["boom", "noop"])
    failed = tools.run(wf)
    with pytest.raises(ValidationError, match="has no result of n0"):
        tools.run(wf, only=["n1"], from_run=failed)
    assert tools.run(wf, only=["n0"]).nodes["n0"].status == "failed"  # a root needs no earlier run


def test_a_killed_run_leaves_a_readable_partial_record(ws: fk.Workspace, tmp_path: Path) -> None:
    add_tools(ws)  # on files only: another process reads what the killed one left
    tools = ws
    wf = fk.Workflow("killed")
    wf.add_node("quick", integration="Tools", task="noop")
    wf.add_node("stuck", integration="Tools", task="clock", params={"seconds": 60})
    wf.add_node("never", integration="Tools", task="noop")
    wf.connect("quick", "stuck")
    wf.connect("stuck", "never")
    tools.workflows.save(wf)
    script = textwrap.dedent(f"""
        import sys
        import flowkit as fk
        ws = fk.Workspace({str(tools.path)!r})
        def tell(event):
            if event.kind == "node_started" and event.node == "stuck":
                print(event.run.id, flush=True)
        ws.run("killed", on_event=tell)
    """)
    env = {**os.environ, "FLOWKIT_CONFIG_DIR": os.environ["FLOWKIT_CONFIG_DIR"]}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        assert run_id, "the child did not start the run"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()

    run = tools.runs.get(run_id)

    assert run.status == "failed" and "Interrupted" in (run.error or "")
    assert run.nodes["quick"].status == "success"
    assert run.nodes["stuck"].status == "running" and run.nodes["stuck"].started_at is not None
    assert run.nodes["never"].status == "pending"
    events = (tools.path / "runs" / f"{run_id}.events.jsonl").read_text().splitlines()
    assert [json.loads(line)["name"] for line in events] == ["quick", "quick", "stuck"]


def test_output_is_kept_within_bounds_and_valid_text(ws: fk.Workspace) -> None:
    add_tools(
        ws,
        name="noisy",
        integration="Noisy",
        source="""
def chatty(credentials, params):
    print("x" * 1_500_000)
    return {"success": True, "message": "done"}


def odd(credentials, params):
    print("lone \\ud800 surrogate")
    raise ValueError("bad \\udfff text")
""",
    )
    wf = fk.Workflow("noisy")
    wf.add_node("chatty", integration="Noisy", task="chatty")
    wf.add_node("odd", integration="Noisy", task="odd")
    run = ws.run(wf)
    chatty, odd = run.nodes["chatty"], run.nodes["odd"]
    assert chatty.status == "success" and len(chatty.log) < 1_100_000
    assert chatty.log.endswith("[log cut at 1,000,000 characters]\n")
    assert odd.error == "noisy.odd raised ValueError: bad ? text"
    assert "lone ? surrogate" in odd.log
    assert ws.runs.get(run.id).nodes["odd"].error == odd.error


def test_credentials_are_decrypted_once_per_run_and_only_where_used(
    tools: fk.Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools.integrations.create("Unused", type="tools", credentials={"token": "never-decrypted"})
    tools.integrations.create("Second", type="tools", credentials={"token": "second-token"})
    wf = chain("decrypt", ["noop"] * 5)
    wf.add_node("other", integration="Second", task="noop")
    opened: list[str] = []
    real = type(tools.keyring()).decrypt

    def counting(self: object, token: str, key_id: str, *, what: str) -> dict[str, object]:
        opened.append(what)
        return real(self, token, key_id, what=what)  # type: ignore[arg-type]

    monkeypatch.setattr(type(tools.keyring()), "decrypt", counting)
    assert tools.run(wf).status == "success"
    assert sorted(opened) == ["integration 'Second'", "integration 'Tools'"]


def test_a_failing_callback_is_logged_and_the_run_goes_on(
    tools: fk.Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: fk.Event) -> None:
        raise RuntimeError("the bar broke")

    with caplog.at_level("ERROR", logger="flowkit.run.events"):
        run = tools.run(chain("callbacks", ["noop"]), on_event=broken)
    assert run.status == "success"
    assert "An on_event callback failed on run_started" in caplog.text and "the bar broke" in caplog.text
