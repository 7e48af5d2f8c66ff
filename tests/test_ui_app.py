"""The App: five tabs over one workspace, refreshed on opening a tab, and Reload integrations."""

from __future__ import annotations

import subprocess
import sys

from helpers import write_integration
from ui_support import add_demo_integration, add_demo_module

import flowkit as fk


def test_app_has_the_five_tabs_with_their_hooks(ws: fk.Workspace) -> None:
    app = fk.ui.App(ws)
    assert app.tabs.titles == ("Integration Types", "Integrations", "Workflows", "Runs", "Schedules")
    assert "flowkit-app" in app.widget._dom_classes and "flowkit-tabs" in app.tabs._dom_classes
    pages = [page._dom_classes[0] for page in app.tabs.children]
    assert pages == [
        "flowkit-tab-types",
        "flowkit-tab-integrations",
        "flowkit-tab-workflows",
        "flowkit-tab-runs",
        "flowkit-tab-schedules",
    ]
    assert app.tabs.children[1].children == (app.integrations.widget,)
    assert str(ws.path) in app.header.value and "0 type(s)" in app.header.value


def test_opening_a_tab_shows_what_another_tab_created(ws: fk.Workspace) -> None:
    add_demo_module(ws)
    app = fk.ui.App(ws)
    app.types.name.value = "demo"
    app.types.fill_button.click()
    app.types.create_button.click()
    assert "1 type(s)" in app.header.value, "the header counts follow what the forms create"
    assert "flowkit-msg-ok" in app.types.feedback.widget.value and "color: #1a7f37" in app.types.feedback.widget.value
    assert "demo" not in app.integrations.type.options
    app.tabs.selected_index = 1
    assert "demo" in app.integrations.type.options
    assert "1 type(s)" in app.header.value

    app.integrations.type.value = "demo"
    app.integrations.name.value = "Mine"
    assert app.integrations.form is not None
    app.integrations.form.fields["account"].widget.value = "al"
    app.integrations.form.fields["api_key"].widget.value = "k"
    app.integrations.create_button.click()
    assert "1 integration(s)" in app.header.value
    app.integrations.create_button.click()  # the same name again: refused, shown in red
    assert "color: #cf222e" in app.integrations.feedback.widget.value
    app.tabs.selected_index = 2
    assert "Mine" in app.workflows.node_form.integration.options


def test_reload_picks_up_new_and_edited_modules(ws: fk.Workspace) -> None:
    add_demo_integration(ws)
    app = fk.ui.App(ws)
    app.workflows.node_form.integration.value = "My Demo"
    assert "brand_new" not in app.workflows.node_form.task.options
    write_integration(ws.path / "integrations", "fresh", "def ping(credentials, params):\n    return {}\n")
    tasks = (ws.path / "integrations" / "demo" / "tasks.py").read_text()
    (ws.path / "integrations" / "demo" / "tasks.py").write_text(
        tasks + "\n\ndef brand_new(credentials, params):\n    return {'success': True, 'message': 'new'}\n"
    )
    app.reload_button.click()
    assert not app.feedback.is_error, app.feedback.text
    assert app.feedback.text.startswith("Reloaded ") and "fresh" in app.feedback.text
    assert "fresh" in app.types.name.options
    assert "brand_new" in app.workflows.node_form.task.options


def test_reload_names_a_module_that_fails_to_load(ws: fk.Workspace) -> None:
    app = fk.ui.App(ws)
    write_integration(ws.path / "integrations", "broken", "raise RuntimeError('boom at import')\n")
    app.reload_button.click()
    assert app.feedback.is_error
    assert "Failed to load: broken:" in app.feedback.text and "boom at import" in app.feedback.text


def test_import_flowkit_does_not_import_ipywidgets() -> None:
    code = (
        "import sys, flowkit as fk\n"
        "assert 'ipywidgets' not in sys.modules and 'flowkit.ui' not in sys.modules\n"
        "assert fk.ui.App.__name__ == 'App' and 'ipywidgets' in sys.modules\n"
        "assert 'ui' in fk.__all__\n"
        "try:\n    fk.nothing_here\nexcept AttributeError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "module 'flowkit' has no attribute 'nothing_here'" in done.stdout


def test_each_screen_displays_itself(ws: fk.Workspace) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    from IPython.display import display

    with capture_output() as captured:
        display(fk.ui.TypeForm(ws))
    data = captured.outputs[0].data
    assert "application/vnd.jupyter.widget-view+json" in data
