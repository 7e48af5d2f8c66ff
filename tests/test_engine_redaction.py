"""Row 2: a task leaking its credential through every channel we know leaves no trace of it anywhere."""

from __future__ import annotations

import json

import pytest
from engine_support import add_tools
from helpers import find_canary, scan_tree

import flowkit as fk

LEAKY = """
import base64
import json
import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def leak(credentials, params):
    secret = credentials["token"]
    print("print:", secret)                                              # 1 print
    print(f"f-string: {secret}", file=sys.stderr)                        # 2 stderr, f-string
    sys.stdout.write("concatenated: " + secret + "\\n")                  # 3 concatenation
    print("repr:", repr(credentials))                                    # 4 repr of the credentials
    print("base64:", base64.b64encode(secret.encode()).decode())         # 5 an encoding of it
    log.warning("logging: %s", secret)                                   # 6 logging with args
    try:
        raise KeyError(secret)
    except KeyError:
        log.exception("logged with its traceback")                       # 7 logging a traceback
    helper = threading.Thread(target=print, args=("from a thread:", secret))
    helper.start()                                                       # 8 a thread the task starts
    helper.join()
    if params.get("child"):
        os.write(1, ("file descriptor 1: " + secret + "\\n").encode())  # 9 below sys.stdout
        os.system("echo subprocess: " + secret)                          # 10 a subprocess
    mode = params["mode"]
    if mode == "raise":
        raise ValueError(secret)                                         # 11 an exception
    if mode == "chained":
        try:
            raise ValueError(secret)
        except ValueError as exc:
            raise RuntimeError("wrapped: " + secret) from exc            # 12 a chained exception
    if mode == "fail":
        return {"success": False, "message": "denied for " + secret}     # 13 a failure message
    return {                                                             # 14 the result
        "success": True,
        "message": f"token {secret}",
        "as_json": json.dumps({"token": secret}),
        "nested": [{"deep": secret}],
        secret: "as a key",
    }
"""


@pytest.mark.parametrize("child", [False, True], ids=["thread", "child-process"])
def test_a_leaking_task_leaves_no_trace_of_its_secret(
    ws: fk.Workspace, canary: str, child: bool, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    add_tools(ws, name="leaky", integration="Leaky", credentials={"token": canary}, source=LEAKY)
    timeout = 20 if child else None
    wf = fk.Workflow("leaks")
    for mode in ("ok", "raise", "chained", "fail"):
        wf.add_node(
            f"{mode}_node", integration="Leaky", task="leak", params={"mode": mode, "child": child}, timeout=timeout
        )
    wf.add_node(
        "downstream",
        integration="Leaky",
        task="leak",
        params={"mode": "{{ ok_node.message }}", "copy": "{{ ok_node.nested }}"},
    )
    wf.connect("ok_node", "downstream")
    seen: list[str] = []

    with pytest.raises(fk.errors.ValidationError, match="'token' of integration 'Leaky'"):
        ws.run(wf, inputs={"echo": canary})  # a secret is never a run input (issue 12)
    run = ws.run(wf, inputs={"echo": "not secret"}, on_event=lambda event: seen.append(repr(event.node_run)))

    nodes = {name.removesuffix("_node"): node for name, node in run.nodes.items()}
    assert [nodes[m].status for m in ("ok", "raise", "chained", "fail")] == ["success", "failed", "failed", "failed"]
    assert nodes["ok"].result["message"] == "token ***" and nodes["ok"].result["***"] == "as a key"
    assert nodes["raise"].error == "leaky.leak raised ValueError: ***"
    assert nodes["chained"].error == "leaky.leak raised RuntimeError: wrapped: ***"
    assert "ValueError: ***" in nodes["chained"].log  # the cause is in the traceback, masked
    assert nodes["fail"].error == "leaky.leak reported failure: denied for ***"
    assert nodes["downstream"].params == {"mode": "token ***", "copy": [{"deep": "***"}]}
    assert run.inputs == {"echo": "not secret"}
    log = nodes["ok"].log
    for line in (
        "print: ***",
        "f-string: ***",
        "concatenated: ***",
        "repr: {'token': '***'}",
        "base64: ***",
        "WARNING leaky",
        "logging: ***",
        "KeyError: '***'",
    ):
        assert line in log
    if child:
        assert "file descriptor 1: ***" in log and "subprocess: ***" in log

    out, err = capfd.readouterr()
    stored = ws.runs.get(run.id)
    channels = {
        "run record": json.dumps(stored.to_dict()),
        "live run": json.dumps(run.to_dict()),
        "run repr": repr(run) + repr(stored.nodes),
        "events": "\n".join(seen),
        "stdout": out,
        "stderr": err,
        "log records": caplog.text + "".join(str(record.__dict__) for record in caplog.records),
        "integration repr": repr(ws.integrations.get("Leaky")) + str(ws.integrations.list()),
        "run list": str(ws.runs.list()),
    }
    assert "from a thread: ***" in out  # a thread of its own is not captured, but masked
    for channel, text in channels.items():
        assert not find_canary(canary, text), f"the secret leaked into the {channel}"
    assert scan_tree(canary, ws.path) == []
