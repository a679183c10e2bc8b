"""No template may hold English that gettext never sees.

Every template under `templates/` is read with the application's own Jinja lexer. Text outside
`{% trans %}` blocks (what a person reads between tags, and the attributes a screen reader or a
tooltip shows) must have no letters in it; string literals in expressions that look like words
for people must be arguments of `_()`, `gettext()` or `ngettext()`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.core.config import Settings
from app.core.templating import jinja_env

TEMPLATES = Settings().templates_dir
GETTEXT_NAMES = {"_", "gettext", "ngettext"}
# Attributes people read or hear: tooltips, alternative text, placeholders, accessible names.
VISIBLE_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "aria-roledescription", "aria-valuetext"}
# The privacy notices are legal texts identified by the SHA-256 of their bytes (a consent record
# stores it): a notice is translated as a separate file per language, never through gettext.
EXCLUDED_FOLDERS = ("privacy/notices/",)
# String literals that look like words but are not for people. Keep it short, each one justified.
# (Empty today: camelCase macro keys and header names such as "X-CSRF-Token" do not look like prose.)
ALLOWED_LITERALS: set[str] = set()
LETTER = re.compile(r"[^\W\d_]")
HOLE = "\ue000"  # stands for an expression, a tag or a trans block in the markup that is left
# A literal in an expression that reads like words: a capitalised word, or two plain words.
PROSE = re.compile(r"(?<![\w-])[A-Z][a-z]|(?<![\w-])[a-z]{2,} [a-z]{2,}(?![\w-])")


def template_names() -> list[str]:
    names = []
    for path in sorted(TEMPLATES.rglob("*")):
        relative = path.relative_to(TEMPLATES).as_posix()
        if path.suffix in (".html", ".txt") and not relative.startswith(EXCLUDED_FOLDERS):
            names.append(relative)
    return names


class _VisibleText(HTMLParser):
    """Collects what a reader sees in the template's own markup (expressions are holes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value and LETTER.search(value.replace(HOLE, "")):
                self.found.append((self.getpos()[0], f"{tag} {name}={value!r}"))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        if LETTER.search(data.replace(HOLE, "")):
            self.found.append((self.getpos()[0], data.strip()))


def untranslated(name: str, templates_dir: Path = TEMPLATES) -> list[str]:
    env = jinja_env(templates_dir)
    source = (templates_dir / name).read_text()
    skeleton: list[str] = []
    problems: list[str] = []
    in_trans = False
    previous_type = previous_value = None
    parens: list[bool] = []  # per open bracket: is it the argument list of a gettext call?
    block_name_expected = False
    for token in env.lexer.tokenize(env.preprocess(source), name=name):
        kind, value = token.type, token.value
        if kind == "block_begin":
            block_name_expected = True
        elif kind == "name" and block_name_expected:
            block_name_expected = False
            if value == "trans":
                in_trans = True
            elif value == "endtrans":
                in_trans = False
        elif kind != "block_end":
            block_name_expected = False

        if kind == "data":
            skeleton.append(HOLE if in_trans else value)
        else:
            if not skeleton or skeleton[-1] != HOLE:
                skeleton.append(HOLE)
            if kind in ("lparen", "lbracket", "lbrace"):
                parens.append(kind == "lparen" and previous_type == "name" and previous_value in GETTEXT_NAMES)
            elif kind in ("rparen", "rbracket", "rbrace") and parens:
                parens.pop()
            elif kind == "string" and not in_trans:
                marked = bool(parens) and parens[-1]
                if not marked and value not in ALLOWED_LITERALS and PROSE.search(value):
                    problems.append(f"{name}:{token.lineno}: string {value!r} is not wrapped in _()")
        previous_type, previous_value = kind, value

    parser = _VisibleText()
    parser.feed("".join(skeleton))
    parser.close()
    problems += [f"{name}: text {text!r} is outside {{% trans %}} / _()" for _line, text in parser.found]
    return problems


@pytest.mark.parametrize("name", template_names())
def test_every_sentence_in_a_template_is_marked_for_translation(name):
    assert untranslated(name) == []


def test_the_check_finds_unmarked_text(tmp_path):
    """The check above is not vacuous: unmarked text, attributes and literals are all reported."""
    sample = tmp_path / "sample.html"
    sample.write_text(
        '<p class="govuk-body">{% trans %}Marked{% endtrans %} and not marked</p>\n'
        '<img alt="A picture" src="/x.png">\n'
        '{{ govukButton({"text": "Save"}) }} {{ govukButton({"text": _("Saved")}) }}\n'
        "<p>{{ count }} &amp; – · ({{ _('fine') }})</p>\n"
    )
    problems = untranslated("sample.html", tmp_path)
    assert len(problems) == 3, problems
    assert any("'Save'" in p for p in problems)
    assert any("and not marked" in p for p in problems)
    assert any("A picture" in p for p in problems)
    assert not any("Saved" in p or "fine" in p or "&" in p for p in problems)


def test_every_template_is_checked():
    names = template_names()
    assert "base.html" in names and "emails/invitation.txt" in names and len(names) > 20
    assert not any(n.startswith("privacy/notices/") for n in names)
