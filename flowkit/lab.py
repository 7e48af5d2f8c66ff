"""`flowkit lab`: a folder with flowkit's notebooks and a workspace, opened in JupyterLab.

The notebooks (getting started, the job template, ...) come from the
checkout's ``notebooks/`` or, in an installed wheel, ``flowkit/_notebooks``.
They are copied into the lab folder only when missing there, so a user's
edits are never overwritten by a later ``flowkit lab``.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import FlowkitError
from .jobs.job import notebooks_folder
from .workspace import ENV_WORKSPACE

DEFAULT_DIR = "flowkit-lab"
START_NOTEBOOK = "getting_started.ipynb"


def prepare(folder: str | os.PathLike[str]) -> list[Path]:
    """Create `folder` and copy in every flowkit notebook it lacks; returns the copies made."""
    target = Path(folder).expanduser().resolve()
    source = notebooks_folder()
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise FlowkitError(f"flowkit's notebooks are missing from {source}; reinstall flowkit.")
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for notebook in notebooks:
        destination = target / notebook.name
        if not destination.exists():
            shutil.copyfile(notebook, destination)
            copied.append(destination)
    return copied


def command(
    folder: str | os.PathLike[str],
    jupyter_args: Sequence[str] = (),
    *,
    workspace: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[list[str], dict[str, str], Path]:
    """What `launch` runs: ``(argv, environment, working folder)``.

    The workspace is `workspace` if given, else ``$FLOWKIT_WORKSPACE`` if set,
    else ``<folder>/workspace``.
    """
    target = Path(folder).expanduser().resolve()
    env = dict(os.environ if environ is None else environ)
    if workspace is not None:
        env[ENV_WORKSPACE] = str(Path(workspace).expanduser().resolve())
    elif not env.get(ENV_WORKSPACE):
        env[ENV_WORKSPACE] = str(target / "workspace")
    args = list(jupyter_args)
    if args[:1] == ["--"]:
        args = args[1:]
    if running_as_root() and not any(arg.split("=")[0] in ROOT_FLAGS for arg in args):
        # JupyterLab refuses to start as root without it; in a container or CI that is the normal case,
        # and the README's one command must just work there too.
        args.append("--allow-root")
    if not any(arg.split("=")[0].endswith(".default_url") for arg in args):
        # The URL JupyterLab prints opens the notebook itself: on a machine without a browser the
        # person copies that URL, and a plain /lab URL shows the Launcher instead.
        args.insert(0, f"--LabApp.default_url=/lab/tree/{START_NOTEBOOK}")
    argv = [sys.executable, "-m", "jupyterlab", START_NOTEBOOK, *args]
    return argv, env, target


ROOT_FLAGS = ("--allow-root", "--ServerApp.allow_root")


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def launch(
    folder: str | os.PathLike[str] = DEFAULT_DIR,
    jupyter_args: Sequence[str] = (),
    *,
    workspace: str | os.PathLike[str] | None = None,
) -> None:
    """Prepare `folder` and replace this process with JupyterLab opened on the getting-started notebook."""
    prepare(folder)
    argv, env, cwd = command(folder, jupyter_args, workspace=workspace)
    os.chdir(cwd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)
