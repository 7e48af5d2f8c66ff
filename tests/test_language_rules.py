"""Conditions (`when=`), trigger rules, `allow_failure=` and parents' status in templates, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from language_support import OUTCOMES, RUNS, add_language_tools, truth_table_workflow

import flowkit as fk
from flowkit.cli import main
from flowkit.errors import ValidationError, WorkflowInvalid
from flowkit.model import TRIGGER_RULES

EXECUTORS = ["threads", "inline"]


@pytest.fixture
def tools(ws: fk.Workspace) -> fk.Workspace:
    add_language_tools(ws)
    return ws


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("condition", [True, False])
@pytest.mark.parametrize("trigger", TRIGGER_RULES)
@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_truth_table_of_trigger_rules_and_conditions(
    tools: fk.Workspace, outcome: str, trigger: str, condition: bool, executor: str
) -> None:
    run = tools.run(
        truth_table_workflow(outcome, trigger, condition), inputs={"yes": True, "no": False}, executor=executor
    )
    child = run.nodes["child"]
    if outcome in RUNS[trigger] and condition:
        assert child.status == "success", (child.status, child.reason)
    elif outcome in RUNS[trigger]:
        assert (child.status, child.reason) == ("skipped", "condition was false")
    else:
        assert child.status == "skipped" and child.reason != "condition was false", child.reason
    # a failure fails the run unless it is allowed; skips never do
    assert run.status == ("failed" if outcome in ("failed", "upstream") else "success")
    parent = run.nodes["parent"]
    expected_parent = {"success": "success", "failed": "failed", "allowed": "failed"}.get(outcome, "skipped")
    assert parent.status == expected_parent


def test_skip_reasons_say_why(tools: fk.Workspace) -> None:
    wf = fk.Workflow("reasons")
    wf.add_node("bad", integration="Tools", task="boom")
    wf.add_node("off", integration="Tools", task="noop", when="{{ inputs.go }}")
    wf.add_node("after_bad", integration="Tools", task="noop")
    wf.add_node("after_after", integration="Tools", task="noop")
    wf.add_node("after_off", integration="Tools", task="noop")
    wf.add_node("alarm", integration="Tools", task="noop", trigger="one_failed")
    wf.connect("bad", "after_bad")
    wf.connect("after_bad", "after_after")
    wf.connect("off", "after_off")
    wf.connect("off", "alarm")
    run = tools.run(wf, inputs={"go": False})
    reasons = {name: (node.status, node.reason) for name, node in run.nodes.items()}
    assert reasons["off"] == ("skipped", "condition was false")
    assert reasons["after_bad"] == ("skipped", "upstream failed: bad")
    assert reasons["after_after"] == ("skipped", "upstream failed: bad")  # the failure behind it, not its parent
    assert run.nodes["after_after"].error == "Skipped: the upstream node 'bad' failed."
    assert reasons["after_off"] == ("skipped", "upstream skipped: off")
    assert reasons["alarm"] == ("skipped", "no upstream node failed")
    assert run.nodes["off"].error is None
    again = tools.runs.get(run.id)
    assert again.nodes["off"].reason == "condition was false"


def test_one_failed_runs_a_failure_handler_with_the_error_masked(ws: fk.Workspace, canary: str) -> None:
    add_language_tools(ws, credentials={"token": canary})
    wf = fk.Workflow("notify on failure")
    wf.add_node("fetch", integration="Tools", task="leaks")
    wf.add_node("other", integration="Tools", task="noop")
    wf.add_node(
        "notify",
        integration="Tools",
        task="echo",
        trigger="one_failed",
        params={"status": "{{ fetch.status }}", "error": "{{ fetch.error }}", "other": "{{ other.status }}"},
    )
    wf.add_node("cleanup", integration="Tools", task="echo", trigger="all_done", params={"s": "{{ notify.status }}"})
    wf.connect("fetch", "notify")
    wf.connect("other", "notify")
    wf.connect("notify", "cleanup")
    run = ws.run(wf)
    assert run.status == "failed" and run.error == "1 node(s) failed: fetch."
    sent = run.nodes["notify"].result["params"]
    assert sent["status"] == "failed" and sent["other"] == "success"
    assert "refused token ***" in sent["error"] and canary not in sent["error"]
    assert run.nodes["cleanup"].result["params"] == {"s": "success"}


def test_a_result_key_named_status_stays_reachable_as_result(tools: fk.Workspace) -> None:
    wf = fk.Workflow("shadow")
    wf.add_node("get", integration="Tools", task="echo", params={"status": 200})
    wf.add_node(
        "use",
        integration="Tools",
        task="echo",
        params={"node": "{{ get.status }}", "own": "{{ get.result.params.status }}", "msg": "{{ get.message }}"},
    )
    wf.connect("get", "use")
    run = tools.run(wf)
    assert run.nodes["use"].result["params"] == {"node": "success", "own": 200, "msg": "echo"}


def test_allow_failure_records_the_failure_and_the_run_succeeds(tools: fk.Workspace) -> None:
    wf = fk.Workflow("continue on error")
    wf.add_node("try_it", integration="Tools", task="boom", allow_failure=True)
    wf.add_node("next", integration="Tools", task="echo", params={"was": "{{ try_it.status }}"})
    wf.connect("try_it", "next")
    run = tools.run(wf)
    assert run.status == "success" and run.error is None
    assert run.nodes["try_it"].status == "failed" and "it broke" in run.nodes["try_it"].error
    assert run.nodes["next"].result["params"] == {"was": "failed"}


def test_a_condition_reads_inputs_and_upstream_results(tools: fk.Workspace) -> None:
    wf = fk.Workflow("notify when there is news")
    wf.add_node("check", integration="Tools", task="listing", params={"items": "{{ inputs.items }}"})
    wf.add_node("tell", integration="Tools", task="noop", when="{{ inputs.notify and check['items'] | length > 0 }}")
    wf.connect("check", "tell")
    assert tools.run(wf, inputs={"notify": True, "items": [1]}).nodes["tell"].status == "success"
    assert tools.run(wf, inputs={"notify": True, "items": []}).nodes["tell"].reason == "condition was false"
    assert tools.run(wf, inputs={"notify": False, "items": [1]}).nodes["tell"].reason == "condition was false"


def test_a_condition_that_does_not_render_fails_its_node(tools: fk.Workspace) -> None:
    wf = fk.Workflow("broken condition")
    wf.add_node("check", integration="Tools", task="noop")
    wf.add_node("tell", integration="Tools", task="noop", when="{{ check.missing.deeper }}")
    wf.connect("check", "tell")
    run = tools.run(wf)
    assert run.nodes["tell"].status == "failed" and "condition (when)" in run.nodes["tell"].error


def test_conditions_are_checked_at_save_like_every_template(tools: fk.Workspace) -> None:
    wf = fk.Workflow("bad conditions")
    wf.add_node("a", integration="Tools", task="noop")
    wf.add_node("b", integration="Tools", task="noop", when="{{ a.ok and nowhere.x }}")
    wf.add_node("c", integration="Tools", task="noop", when="{{ b.status == 'success' }}")  # not connected
    wf.add_node("d", integration="Tools", task="noop", when="{{ a.x ) }}")
    wf.connect("a", "b")
    messages = [problem.message for problem in tools.validate(wf)]
    assert any("Option 'when' uses 'nowhere'" in message for message in messages)
    assert any("Option 'when' uses the result of 'b', which is not upstream of 'c'" in message for message in messages)
    assert any("Option 'when'" in message and "not a valid template" in message for message in messages)
    with pytest.raises(WorkflowInvalid):
        tools.workflows.save(wf)


def test_bad_option_values_are_refused_where_entered() -> None:
    wf = fk.Workflow("options")
    with pytest.raises(ValidationError, match="trigger must be one of all_success, all_done"):
        wf.add_node("a", integration="Tools", task="noop", trigger="sometimes")
    with pytest.raises(ValidationError, match="when must be a template"):
        wf.add_node("a", integration="Tools", task="noop", when="yes")
    with pytest.raises(ValidationError, match="allow_failure must be True or False"):
        wf.add_node("a", integration="Tools", task="noop", allow_failure="yes")
    with pytest.raises(ValidationError, match="unknown option"):
        wf.add_node("a", integration="Tools", task="noop", retry=3)


def test_options_round_trip_and_plain_nodes_are_stored_as_before(tools: fk.Workspace) -> None:
    wf = fk.Workflow("stored")
    wf.add_node("a", integration="Tools", task="noop")
    wf.add_node("b", integration="Tools", task="noop", when="{{ a.ok }}", trigger="all_done", allow_failure=True)
    wf.connect("a", "b")
    tools.workflows.save(wf)
    again = tools.workflows.get("stored")
    assert again.node("b").trigger == "all_done" and again.node("b").allow_failure
    assert set(again.node("a").to_dict()) == {
        "name",
        "integration",
        "task",
        "params",
        "retries",
        "timeout",
        "retry_delay",
    }


def test_resume_reruns_nodes_skipped_by_a_condition_with_new_inputs(tools: fk.Workspace) -> None:
    wf = fk.Workflow("resume conditions")
    wf.add_node("a", integration="Tools", task="noop")
    wf.add_node("b", integration="Tools", task="noop", when="{{ inputs.go }}")
    wf.connect("a", "b")
    first = tools.run(wf, inputs={"go": False})
    assert first.nodes["b"].status == "skipped"
    second = tools.resume(first, inputs={"go": True})
    assert second.nodes["a"].reused and second.nodes["b"].status == "success"


def test_cli_run_shows_skip_reasons(tools: fk.Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    tools.workflows.save(truth_table_workflow("success", "all_success", False))
    code = main(["-w", str(tools.path), "run", "tt success all_success False", "-i", "yes=true", "-i", "no=false"])
    out = capsys.readouterr().out
    assert code == 0 and "skipped (condition was false)" in out


def test_a_parent_view_hands_on_real_values_and_records_them_masked(
    ws: fk.Workspace, canary: str, tmp_path: Path
) -> None:
    add_language_tools(ws, credentials={"token": canary})
    wf = fk.Workflow("handed on")
    wf.add_node("r", integration="Tools", task="reveals")
    wf.add_node(
        "use",
        integration="Tools",
        task="per_item",
        trigger="all_done",
        params={"item": "{{ r.token }}|{{ r.status }}", "path": str(tmp_path / "got")},
    )
    wf.connect("r", "use")
    run = ws.run(wf)
    assert (tmp_path / "got").read_text().strip() == f'"{canary}|success"'  # the task got the real value
    assert run.nodes["use"].result["item"] == "***|success"  # the record masks it
