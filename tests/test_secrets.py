"""Issue 12: mask what is shown or recorded, never what is handed on — and mask all of a secret.

The line between secret and shown is `Param.secret` (``kind="password"``, and
``json`` fields marked ``secret=True``). Every test here is a canary: a
secret value is hunted for where it must not be, and non-secret values are
checked where they must appear unchanged.
"""

from __future__ import annotations

import base64
import html
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import nbformat
import pytest
from helpers import find_canary, scan_tree, write_integration

import flowkit as fk
from flowkit import jobs
from flowkit.cli import main
from flowkit.errors import ValidationError

VAULT = '''
import base64
import html
import logging
import urllib.parse

log = logging.getLogger(__name__)


def test_connection(credentials, params):
    return {"success": True, "message": f"Connected to {credentials['base_url']} (mode {credentials['mode']})."}


def build(credentials, params):
    """Hand on non-secret credential values, as a task may."""
    return {"success": True, "message": "built", "url": credentials["base_url"] + "/items",
            "text": f"{credentials['mode']} of the {credentials['port']} items"}


def received(credentials, params):
    """Report the params it got."""
    return {"success": True, "message": "got them", "got": params}


def hand_token(credentials, params):
    """Return the secret on purpose: it is handed on, and masked in the record."""
    return {"success": True, "message": "handed on", "token": credentials["token"]}


def is_token(credentials, params):
    """Succeed only if `value` is exactly this integration's token."""
    same = params["value"] == credentials["token"]
    return {"success": same, "message": "the very token" if same else "another value"}


def encodings(credentials, params):
    """Print the secret in the encodings a leak takes."""
    secret = credentials["token"]
    print("quoted:", urllib.parse.quote(secret))
    print("quoted, nothing safe:", urllib.parse.quote(secret, safe=""))
    print("plus:", urllib.parse.quote_plus(secret))
    print("upper hex:", secret.encode().hex().upper())
    print("bearer:", base64.b64encode(b"Bearer " + secret.encode()).decode())
    print("basic:", base64.b64encode(("admin:" + secret).encode()).decode())
    print("base32:", base64.b32encode(b"Bearer " + secret.encode()).decode())
    print("html:", html.escape(secret))
    print("split:", secret[:12] + "\\n" + secret[12:])
    log.warning("repr %r", secret)
    return {"success": True, "message": "printed", "pin": int(credentials["pin"])}


def short_words(credentials, params):
    return {"success": True, "message": f"The signing key is shortened: key {credentials['token']}."}


def raises(credentials, params):
    class Custom(BaseException):
        pass

    kinds = {"keyboard": KeyboardInterrupt, "exit": SystemExit, "generator": GeneratorExit, "custom": Custom}
    raise kinds[params["kind"]]("boom " + credentials["token"])


def show_json(credentials, params):
    print("the service:", credentials["service"])
    return {"success": True, "message": "json", "service": credentials["service"]}
'''

VAULT_PARAMS = [
    fk.Param("base_url"),
    fk.Param("mode", kind="choice", choices=["none", "tls"], default="none"),
    fk.Param("port", kind="integer", default=587),
    fk.Param("token", kind="password"),
    fk.Param("pin", kind="password"),
]


def special(canary: str) -> str:
    """A secret with every character that an encoding changes."""
    return f"{canary}/a b+c@d:e'f\"g<h>&i"


def add_vault(ws: fk.Workspace, token: str, *, name: str = "Vault", base_url: str = "http://127.0.0.1:9/api") -> None:
    if "vault" not in ws.registry.modules():
        write_integration(ws.path / "integrations", "vault", VAULT)
        ws.registry.reload()
        ws.types.create("vault", params=VAULT_PARAMS)
    ws.integrations.create(
        name,
        type="vault",
        credentials={"base_url": base_url, "mode": "none", "port": 587, "token": token, "pin": "918273645"},
    )


def record_text(ws: fk.Workspace, run: fk.Run) -> str:
    return (ws.path / "runs" / f"{run.id}.json").read_text()


# -- what flows is the real value; non-secret values are shown as they are ------------------
def test_downstream_nodes_get_the_exact_upstream_values(ws: fk.Workspace, canary: str) -> None:
    add_vault(ws, canary)
    wf = fk.Workflow("flows")
    wf.add_node("get", integration="Vault", task="build")
    wf.add_node("use", integration="Vault", task="received", params={"url": "{{ get.url }}", "text": "{{ get.text }}"})
    wf.connect("get", "use")

    run = ws.run(wf)

    assert run.status == "success", run.error
    expected = {"url": "http://127.0.0.1:9/api/items", "text": "none of the 587 items"}
    assert run.nodes["use"].params == expected
    assert run.nodes["use"].result["got"] == expected
    assert ws.runs.get(run.id).nodes["get"].result["url"] == expected["url"]


def test_a_secret_returned_on_purpose_is_handed_on_and_masked_in_the_record(ws: fk.Workspace, canary: str) -> None:
    add_vault(ws, canary)
    wf = fk.Workflow("hand on")
    wf.add_node("give", integration="Vault", task="hand_token")
    wf.add_node("check", integration="Vault", task="is_token", params={"value": "{{ give.token }}"})
    wf.connect("give", "check")
    seen: list[str] = []

    run = ws.run(wf, on_event=lambda event: seen.append(repr(event.run.to_dict())))

    assert run.nodes["check"].status == "success", run.nodes["check"].error  # it got the real token
    assert run.nodes["give"].result["token"] == "***"
    assert run.nodes["check"].params == {"value": "***"}
    assert not find_canary(canary, record_text(ws, run), *seen, repr(run))
    assert scan_tree(canary, ws.path) == []


def test_test_connection_shows_non_secret_values(ws: fk.Workspace, canary: str, tmp_path: Path) -> None:
    add_vault(ws, canary, base_url="http://127.0.0.1:9/api")
    assert ws.integrations.test("Vault")["message"] == "Connected to http://127.0.0.1:9/api (mode none)."
    ws.types.create_from_module("files")
    ws.integrations.create("Files", type="files", credentials={"root": str(tmp_path)})
    result = ws.integrations.test("Files")
    assert result["success"] and str(tmp_path) in json.dumps(result["steps"])


def test_a_short_secret_is_masked_as_a_word_never_inside_words(ws: fk.Workspace) -> None:
    add_vault(ws, "short")
    wf = fk.Workflow("short")
    wf.add_node("say", integration="Vault", task="short_words")
    run = ws.run(wf)
    assert run.nodes["say"].result["message"] == "The signing key is shortened: key ***."


# -- everything of a secret is masked ---------------------------------------------------------
def test_every_encoding_of_a_secret_is_masked_in_the_log(ws: fk.Workspace, canary: str) -> None:
    secret = special(canary)
    add_vault(ws, secret)
    wf = fk.Workflow("encodings")
    wf.add_node("leak", integration="Vault", task="encodings")

    run = ws.run(wf)

    log = run.nodes["leak"].log
    raw = secret.encode()
    leaks = {
        "quoted": urllib.parse.quote(secret),
        "quoted, nothing safe": urllib.parse.quote(secret, safe=""),
        "plus": urllib.parse.quote_plus(secret),
        "upper hex": raw.hex().upper(),
        "bearer": base64.b64encode(b"Bearer " + raw).decode(),
        "basic": base64.b64encode(b"admin:" + raw).decode(),
        "base32": base64.b32encode(b"Bearer " + raw).decode(),
        "html": html.escape(secret),
        "split": secret[:12] + "\n" + secret[12:],
        "repr": repr(secret),
    }
    for what, form in leaks.items():
        assert form not in log, f"the {what} form leaked"
        shown = [line for line in log.splitlines() if f"{what}:" in line or f"{what} " in line]
        assert shown and "***" in shown[0], (what, log)  # the encoding's first and last characters may stay
    assert canary[:12] not in log
    assert run.nodes["leak"].result["pin"] == "***"  # a secret returned as a number
    assert "918273645" not in record_text(ws, run)


def test_every_string_leaf_of_a_secret_json_credential_is_masked(
    ws: fk.Workspace, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_integration(ws.path / "integrations", "keyed", VAULT)
    ws.registry.reload()
    ws.types.create("keyed", params=[fk.Param("service", kind="json", secret=True)])
    service = {"type": "service_account", "private_key": f"-----BEGIN KEY-----\n{canary}\n-----END KEY-----"}
    ws.integrations.create("Keyed", type="keyed", credentials={"service": service})
    wf = fk.Workflow("json")
    wf.add_node("show", integration="Keyed", task="show_json")

    run = ws.run(wf)

    assert run.status == "success", run.error
    assert run.nodes["show"].result["service"] == {"type": "***", "private_key": "***"}
    assert not find_canary(canary, record_text(ws, run), run.nodes["show"].log)
    assert scan_tree(canary, ws.path) == []
    assert main(["-w", str(ws.path), "runs", "show", run.id]) == 0
    shown = capsys.readouterr().out
    assert "service_account" not in shown and "***" in shown and not find_canary(canary, shown)


def test_url_userinfo_never_reaches_a_message(ws: fk.Workspace, canary: str) -> None:
    ws.types.create_from_module("http")
    ws.integrations.create("Api", type="http", credentials={"base_url": f"http://admin:{canary}@127.0.0.1:9/api"})
    result = ws.integrations.test("Api")
    assert not result["success"]
    text = json.dumps(result)
    assert "admin:" not in text and not find_canary(canary, text)
    assert "127.0.0.1:9" in text  # the host is not a secret
    wf = fk.Workflow("userinfo")
    wf.add_node("get", integration="Api", task="request", params={"url": "items"})
    run = ws.run(wf)
    assert run.status == "failed"
    text = record_text(ws, run)
    assert "admin:" not in text and not find_canary(canary, text)


@pytest.mark.parametrize("kind", ["keyboard", "exit", "generator", "custom"])
@pytest.mark.parametrize("executor", ["inline", "threads"])
def test_any_base_exception_from_a_task_is_that_nodes_masked_failure(
    ws: fk.Workspace, canary: str, kind: str, executor: str
) -> None:
    add_vault(ws, canary)
    wf = fk.Workflow("raises")
    wf.add_node("bad", integration="Vault", task="raises", params={"kind": kind})
    wf.add_node("other", integration="Vault", task="build")

    run = ws.run(wf, executor=executor)

    assert run.nodes["other"].status == "success"
    assert run.nodes["bad"].status == "failed"
    assert "boom ***" in run.nodes["bad"].error
    assert not find_canary(canary, record_text(ws, run))


def test_a_custom_base_exception_prints_no_secret_on_the_terminal(ws: fk.Workspace, canary: str) -> None:
    add_vault(ws, canary)
    wf = fk.Workflow("raises")
    wf.add_node("bad", integration="Vault", task="raises", params={"kind": "custom"})
    ws.workflows.save(wf)
    done = subprocess.run(
        [sys.executable, "-m", "flowkit.cli", "-w", str(ws.path), "run", "raises"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert done.returncode == 1, done.stderr
    assert not find_canary(canary, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


# -- one refusal everywhere ---------------------------------------------------------------------
def _inputs_workflow(ws: fk.Workspace) -> fk.Workflow:
    wf = fk.Workflow("takes input")
    wf.add_node("use", integration="Vault", task="received", params={"x": "{{ inputs.x }}"})
    return ws.workflows.save(wf)


def test_a_secret_run_input_is_refused_by_every_face_with_one_message(
    ws: fk.Workspace, canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    add_vault(ws, canary)
    _inputs_workflow(ws)
    with pytest.raises(ValidationError) as by_job:
        jobs.check_inputs(ws, {"x": f"Bearer {canary}"})
    message = str(by_job.value)
    assert "'token'" in message and "'Vault'" in message and not find_canary(canary, message)
    with pytest.raises(ValidationError) as by_run:
        ws.run("takes input", inputs={"x": f"Bearer {canary}"})
    assert str(by_run.value) == message
    with pytest.raises(ValidationError) as by_batch:
        jobs.run_batch(ws, "takes input", [{"x": f"Bearer {canary}"}], progress=False)
    assert message in str(by_batch.value)
    assert main(["-w", str(ws.path), "run", "takes input", "-i", f"x=Bearer {canary}"]) == 2
    assert message in capsys.readouterr().err
    assert ws.runs.list() == []


def test_a_non_secret_credential_value_is_a_fine_input(ws: fk.Workspace, canary: str) -> None:
    add_vault(ws, canary)
    _inputs_workflow(ws)
    assert jobs.check_inputs(ws, {"x": "http://127.0.0.1:9/api"}) == {"x": "http://127.0.0.1:9/api"}
    run = ws.run("takes input", inputs={"x": "http://127.0.0.1:9/api"})
    assert run.status == "success" and run.inputs == {"x": "http://127.0.0.1:9/api"}


def test_a_secret_typed_into_node_params_is_refused_at_save(ws: fk.Workspace, canary: str) -> None:
    add_vault(ws, canary)
    wf = fk.Workflow("pasted")
    wf.add_node("use", integration="Vault", task="received", params={"headers": {"auth": f"Bearer {canary}"}})
    with pytest.raises(ValidationError) as refused:
        ws.workflows.save(wf)
    message = str(refused.value)
    assert "'token'" in message and "'Vault'" in message and "integration" in message
    assert not find_canary(canary, message)
    assert scan_tree(canary, ws.path) == []
    wf.node("use").params = {"url": "http://127.0.0.1:9/api"}  # a non-secret value is fine
    ws.workflows.save(wf)


# -- notebooks and the UI -------------------------------------------------------------------------
def _notebook(path: Path, cells: list[tuple[str, list[str]]]) -> None:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_a_notebook_nodes_executed_copy_is_scrubbed(ws: fk.Workspace, canary: str, tmp_path: Path) -> None:
    add_vault(ws, canary)
    root = tmp_path / "notebooks"
    root.mkdir()
    _notebook(
        root / "use.ipynb",
        [
            ("token = ''\nworkspace = ''", ["parameters"]),
            (
                "import flowkit as fk\n\nreal = fk.Workspace(workspace).integrations.get('Vault').credentials['token']",
                [],
            ),
            ("print('got', token, token == real)\nprint('stored', real)", []),
        ],
    )
    ws.types.create_from_module("notebook")
    ws.integrations.create("Notebooks", type="notebook", credentials={"root": str(root)})
    wf = fk.Workflow("notebook")
    wf.add_node("give", integration="Vault", task="hand_token")
    wf.add_node(
        "nb",
        integration="Notebooks",
        task="run_notebook",
        params={
            "notebook": "use.ipynb",
            "output": "out.ipynb",
            "parameters": {"token": "{{ give.token }}", "workspace": str(ws.path)},
        },
    )
    wf.connect("give", "nb")

    run = ws.run(wf)

    assert run.status == "success", run.error
    copy = (root / "out.ipynb").read_text()
    assert "got *** True" in copy and "stored ***" in copy
    assert not find_canary(canary, copy)


def test_the_edit_form_never_loads_a_secret_json_value(ws: fk.Workspace, canary: str) -> None:
    from ui_support import widget_state_text

    from flowkit.ui.integration_form import IntegrationForm

    write_integration(ws.path / "integrations", "keyed", VAULT)
    ws.registry.reload()
    ws.types.create("keyed", params=[fk.Param("host"), fk.Param("service", kind="json", secret=True)])
    ws.integrations.create("Keyed", type="keyed", credentials={"host": "db.local", "service": {"key": canary}})
    form = IntegrationForm(ws)
    form.list.value = "Keyed"
    form.edit()
    assert "db.local" in widget_state_text()
    assert not find_canary(canary, widget_state_text())


def test_a_job_report_masks_json_leaves_and_takes_a_folder_as_input(ws: fk.Workspace, canary: str) -> None:
    write_integration(ws.path / "integrations", "keyed", VAULT)
    ws.registry.reload()
    ws.types.create("keyed", params=[fk.Param("root"), fk.Param("service", kind="json", secret=True)])
    ws.integrations.create("Keyed", type="keyed", credentials={"root": "/srv/data", "service": {"key": canary}})
    wf = fk.Workflow("json job")
    wf.add_node("show", integration="Keyed", task="show_json")
    wf.add_node("echo", integration="Keyed", task="received", params={"folder": "{{ inputs.folder }}"})
    ws.workflows.save(wf)

    result = jobs.run_job(ws, "json job", inputs={"folder": "/srv/data"}, timeout=120)

    assert result.ok, result.error
    assert not find_canary(canary, Path(result.report).read_text())
    assert ws.runs.get(result.run_id).nodes["echo"].params == {"folder": "/srv/data"}


def test_a_job_report_is_scrubbed_of_what_its_template_printed(ws: fk.Workspace, canary: str, tmp_path: Path) -> None:
    write_integration(ws.path / "integrations", "keyed", VAULT)
    ws.registry.reload()
    ws.types.create("keyed", params=[fk.Param("service", kind="json", secret=True)])
    ws.integrations.create("Keyed", type="keyed", credentials={"service": {"key": canary}})
    wf = fk.Workflow("printing template")
    wf.add_node("show", integration="Keyed", task="show_json")
    ws.workflows.save(wf)
    template = nbformat.read(jobs.template_path(), as_version=4)
    printing = "print('service:', fk.Workspace(workspace).integrations.get('Keyed').credentials['service'])"
    template.cells.insert(3, nbformat.v4.new_code_cell(printing))
    nbformat.write(template, tmp_path / "template.ipynb")

    result = jobs.run_job(ws, "printing template", template=tmp_path / "template.ipynb", timeout=120)

    assert result.ok, result.error
    report = Path(result.report).read_text()
    assert "service: {'key': '***'}" in report
    assert not find_canary(canary, report)
