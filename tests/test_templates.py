"""The Jinja filling of docs/*.template.md (datasheet.filled): values go in as they are, the text around them
byte for byte, and a template that cannot be filled is a one-line error naming its file and line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pactnews.outputs import datasheet, editions
from pactnews.outputs.datasheet import DatasheetError, filled

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((REPO / "docs").glob("*.template.md"))
WHERE = "docs/example.template.md"
NAME = re.compile(r"\{\{([a-z0-9_]+)\}\}")


def error(template: str, values: dict[str, str], where: str = WHERE) -> str:
    with pytest.raises(DatasheetError) as exc:
        filled(template, values, where)
    message = str(exc.value)
    assert "\n" not in message, message
    return message


def test_the_repository_templates_are_filled_byte_for_byte():
    """Every template is text and {{name}} only: filled, it is its text with each name replaced by its value.
    A `{# ... #}` or `{% ... %}` in the Markdown (which Jinja would drop or run) fails here."""
    assert {p.name for p in TEMPLATES} >= {"card.template.md", "datasheet.template.md", "annotations-only.template.md"}
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        names = set(NAME.findall(text))
        assert names and datasheet.placeholders(text) == names, path.name
        values = {n: f"[{n} {{{{ x }}}} {{% if %}}\n]" for n in names}
        where = path.relative_to(REPO).as_posix()
        assert filled(text, values, where) == NAME.sub(lambda m: values[m.group(1)], text), (
            f"{where}: Jinja syntax other than {{{{name}}}} in the template")


def test_a_value_is_inserted_verbatim():
    value = "{{ x }} {% if %} {%- endif %} {# c #} {% raw %}{{y}}{% endraw %} #} %} }} ## \\n &<>"
    assert filled("a {{v}} b\n", {"v": value, "x": "X", "y": "Y"}, WHERE) == f"a {value} b\n"
    bibtex = "  title  = {{PactNews: a title}},"
    assert filled("{{bibtex}}\n", {"bibtex": bibtex}, WHERE) == bibtex + "\n"


@pytest.mark.parametrize("ending", ["", "\n", "\n\n", "\n\n\n", " \n"])
def test_the_output_ends_with_the_template_ending(ending):
    assert filled("# Title\n\n{{a}}" + ending, {"a": "A"}, WHERE) == "# Title\n\nA" + ending
    assert filled("{{a}}\ntext" + ending, {"a": "A\n"}, WHERE) == "A\n\ntext" + ending


def test_markdown_is_not_template_syntax():
    text = "# Heading\n## Sub {x}\n- a # b\n`{ }` 100% {x} }}\n```\n#!/bin/sh\n```\n"
    assert filled(text, {}, WHERE) == text


def test_an_unknown_placeholder_names_the_file_and_line():
    message = error("# Title\n\nThe {{version}}.\nSee {{no_such_block}}.\n", {"version": "1.0.0"})
    assert message == f"{WHERE}:4: unknown placeholder {{{{no_such_block}}}}"


def test_every_unknown_placeholder_is_named_on_one_line():
    message = error("{{n_documents}}\n{{n_docments}} and {{ zzz }}\n\n{{n_docments}}\n", {"n_documents": "3"})
    assert message == (f"{WHERE}:2: unknown placeholder {{{{n_docments}}}} (did you mean {{{{n_documents}}}}?); "
                       f"{WHERE}:2: unknown placeholder {{{{zzz}}}}; "
                       f"{WHERE}:4: unknown placeholder {{{{n_docments}}}} (did you mean {{{{n_documents}}}}?)")


@pytest.mark.parametrize("template, line", [
    ("a\n\n{% if %}\n", 3),
    ("a\n{{ x\n", 2),
    ("a\n{# never closed\n", 2),
    ("a\n\n\n{{ x | no_such_filter }}\n", 4),
    ("{{ x }}\n{% endif %}\n", 2),
    ("{{x}\n", 1),
])
def test_a_syntax_error_names_the_file_and_line(template, line):
    message = error(template, {"x": "X"})
    assert message.startswith(f"{WHERE}:{line}: template syntax error: "), message
    assert len(message) > len(f"{WHERE}:{line}: template syntax error: ")


def test_an_error_while_rendering_names_the_file_and_line():
    message = error("a\n\nb {{ version.major }}\n", {"version": "1.0.0"})
    assert message.startswith(f"{WHERE}:3: "), message
    assert "major" in message


def test_the_edition_notice_names_its_template(tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / editions.NOTICE_TEMPLATE
    path.write_text("> {{pretty_name}} {{version}}\n>\n> {{no_such_value}}\n", encoding="utf-8")
    with pytest.raises(DatasheetError) as exc:
        editions.notice(tmp_path, {"pretty_name": "P", "version": "1.0.0"})
    assert str(exc.value) == "docs/annotations-only.template.md:3: unknown placeholder {{no_such_value}}"
    path.write_text("> {{pretty_name}} {{version}}\n", encoding="utf-8")
    assert editions.notice(tmp_path, {"pretty_name": "P {{v}}", "version": "1.0.0"}) == "> P {{v}} 1.0.0\n"
