"""Running a workflow, stage by stage.

- `templating`: params as Jinja2 templates in a sandbox; which names a template reads;
- `validation`: every problem of a workflow at once, and a plan per sound node;
- `selection`: which nodes a run executes and which earlier results it reuses;
- `events`: what a run reports as it goes (`Event`), delivered on the driver thread;
- `engine`: one run driven to its end (`Execution`), given its `RunParts`;
- `launch`: `run_workflow`, what `Workspace.run` and `Workspace.resume` call.
"""
