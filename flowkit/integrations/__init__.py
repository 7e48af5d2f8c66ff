"""Integration modules: finding, loading and describing them, and what their authors use.

- `loader`: import a folder under the private ``flowkit._plugins`` namespace, from source only;
- `taskspec`: `TaskSpec`; which names are tasks; params from ``@task``, a TypedDict, docstring ``Args:``;
- `registry`: discover modules (the workspace's folder, ``$FLOWKIT_INTEGRATIONS_PATH``, the
  built-ins, entry points), lazily per module; reload;
- `authoring`: ``@flowkit.task``: declare, check, ``TaskFailed`` -> result, mask;
- `connection`: `ConnectionReport`, Test Connection's config -> auth -> request steps.
"""
