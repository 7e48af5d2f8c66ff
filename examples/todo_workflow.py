"""To-do round: the example `todo` integration (and the built-in `http` one) against a local to-do API.

Shows the whole path in code: copy an integration into the workspace, create
its type from its ``CREDENTIALS``, store credentials encrypted, test the
connection, and run a workflow whose nodes pass data (``{{ add.id }}``).
The API runs on 127.0.0.1 for the length of the script (`demo_api.py`).

Run: ``python examples/todo_workflow.py [--workspace DIR]``
"""

from __future__ import annotations

import sys

from common import ensure_integration, ensure_type, install_example_integration, parse_args, show, workspace
from demo_api import RunningAPI, serve

import flowkit as fk

WORKFLOW = "To-do round"


def build(ws: fk.Workspace, api: RunningAPI) -> str:
    """Install the integrations, create them for `api`, save the workflow; returns its name."""
    install_example_integration(ws, "todo")
    ensure_type(ws, "todo")
    ensure_type(ws, "http")
    credentials = {"base_url": api.url, "token": api.token}
    ensure_integration(ws, "My To-dos", type="todo", credentials=credentials)
    ensure_integration(ws, "To-do API", type="http", credentials=credentials)
    print("Test connection:", ws.integrations.test("My To-dos")["message"])

    wf = fk.Workflow(WORKFLOW, "Add a to-do, complete it, then list what is open and read the API's counts")
    wf.add_node("add", integration="My To-dos", task="add_todo", params={"title": "{{ inputs.title }}"})
    wf.add_node("complete", integration="My To-dos", task="complete_todo", params={"id": "{{ add.id }}"})
    wf.add_node("still_open", integration="My To-dos", task="list_todos", params={"done": False})
    wf.add_node("counts", integration="To-do API", task="request", params={"url": "/stats"})
    wf.connect("add", "complete")
    wf.connect("complete", "still_open")
    wf.connect("complete", "counts")
    ws.workflows.save(wf)
    return WORKFLOW


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    with workspace(args.workspace) as ws, serve() as api:
        api.store.todos.append({"id": 1, "title": "Read the getting-started notebook", "done": False})
        build(ws, api)
        run = ws.run(WORKFLOW, inputs={"title": "Water the plants"})
        show(run)
        print("Counts from the API:", run.nodes["counts"].result.get("json"))
        return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
