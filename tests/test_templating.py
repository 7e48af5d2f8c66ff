"""Templating: sandboxed Jinja, type-preserving single expressions, strict references, the fast dotted path."""

from __future__ import annotations

import sys

import pytest

from flowkit.errors import TemplateError
from flowkit.run import templating

CONTEXT = {
    "inputs": {"title": "Hello", "tags": ["a", "b"], "n": 3, "none": None},
    "create_repo": {"html_url": "https://example.test/r", "items": [1, 2], "meta": {"stars": 5}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.tags }}", ["a", "b"]),
        ("{{ inputs.n }}", 3),
        (" {{ inputs.n }} ", 3),
        ("{{ inputs.none }}", None),
        ("{{ create_repo.meta }}", {"stars": 5}),
        ("{{ create_repo.items }}", [1, 2]),  # the key, not dict.items
        ("{{ inputs.n * 2 }}", 6),
        ("{{ inputs.tags | length }}", 2),
        ("{{ inputs['title'] }}", "Hello"),
        ("{{ create_repo.items + [3] }}", [1, 2, 3]),
        ("{{ inputs.missing | default('x') }}", "x"),
        ("{{ inputs.title }} world", "Hello world"),
        ("{{ inputs.n }}{{ inputs.n }}", "33"),
        ("Stars: {{ create_repo.meta.stars }}", "Stars: 5"),
        ("{% for t in inputs.tags %}{{ t }},{% endfor %}", "a,b,"),
        ("no template", "no template"),
    ],
)
def test_render_keeps_the_type_of_a_single_expression(template: str, expected: object) -> None:
    assert templating.render({"p": template}, CONTEXT) == {"p": expected}


def test_nested_params_are_rendered_recursively() -> None:
    params = {"a": ["{{ inputs.n }}", {"b": "{{ inputs.tags }}", "c": 1}], "d": True}
    assert templating.render(params, CONTEXT) == {"a": [3, {"b": ["a", "b"], "c": 1}], "d": True}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{ create_repo.html_ur }}",
            "param 'p': '{{ create_repo.html_ur }}' does not resolve: 'dict object' has no attribute 'html_ur'.",
        ),
        ("url: {{ create_repo.html_ur }}", "does not resolve: 'dict object' has no attribute 'html_ur'."),
        ("{{ nobody }}", "does not resolve: 'nobody' is undefined."),
        ("{{ inputs.title.upper.__globals__ }}", "param 'p': '{{ inputs.title.upper.__globals__ }}'"),
        ("{{ create_repo.items.append(3) }}", "refused by the template sandbox"),
        ("{{ inputs.n / 0 }}", "failed: ZeroDivisionError"),
        ("{{ inputs.n ", "is not a valid template: unexpected end of template"),
        ("{{ range(3) }}", "does not give a JSON value: p is a range"),
    ],
)
def test_a_template_that_does_not_resolve_is_an_error_never_an_empty_value(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        templating.render({"p": template}, CONTEXT)
    assert message in str(caught.value)


def test_nothing_unsafe_is_reachable_from_a_template() -> None:
    for attack in ("{{ ''.__class__.__mro__ }}", "{{ inputs.__class__ }}", "{{ cycler.__init__.__globals__ }}"):
        with pytest.raises(TemplateError):
            templating.render({"p": attack}, CONTEXT)


@pytest.mark.parametrize(
    ("template", "names", "inputs"),
    [
        ("{{ a.b }}", {"a"}, set()),
        ("{{ inputs.title }}", {"inputs"}, {"title"}),
        ("{{ inputs['title'] ~ b.x }}", {"inputs", "b"}, {"title"}),
        ("{% for t in inputs.tags %}{{ t }}{{ c.y }}{% endfor %}", {"inputs", "c"}, {"tags"}),
        ("{{ inputs.x | default(1) }}{% if inputs.y is defined %}{{ inputs.y }}{% endif %}", {"inputs"}, {"y"}),
        ("{{ range(3) | list }}", set(), set()),
    ],
)
def test_references_name_the_nodes_and_inputs_a_template_reads(
    template: str, names: set[str], inputs: set[str]
) -> None:
    assert templating.references(template) == (names, inputs)


def test_the_dotted_form_needs_no_jinja() -> None:
    # The common case is a dict lookup; Jinja is imported only for anything richer.
    code = (
        "import sys; from flowkit.run import templating; "
        "v = templating.render({'p': '{{ a.b.c }}', 'q': 'x'}, {'a': {'b': {'c': [1]}}}); "
        "n = templating.references('{{ a.b }}'); "
        "assert v == {'p': [1], 'q': 'x'} and n == ({'a'}, set()), v; "
        "assert 'jinja2' not in sys.modules"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_template_strings_locate_every_template() -> None:
    params = {"a": "{{ x }}", "b": ["plain", {"c": "{% if y %}1{% endif %}"}], "d": "{{ z"}
    assert list(templating.template_strings(params, "")) == [
        ("a", "{{ x }}"),
        ("b[1].c", "{% if y %}1{% endif %}"),
        ("d", "{{ z"),
    ]
    assert templating.has_templates(params) and not templating.has_templates({"a": ["b", 1]})
