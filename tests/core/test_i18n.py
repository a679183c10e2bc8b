"""Languages: negotiation, the switcher, the account setting, translated pages, and catalogues
that are complete, consistent and up to date with the code."""

from __future__ import annotations

import re
from configparser import RawConfigParser
from datetime import date

import pytest
from alembic import command
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import inspect, select, text

from app.accounts.models import Account
from app.core import i18n
from app.core.config import PROJECT_ROOT, Settings
from app.core.db import make_engine
from app.core.errors import FieldError
from app.core.i18n import N_
from app.core.templating import jinja_env
from app.migrations_support import alembic_config
from tests.conftest import PASSWORD, post_form, sign_in

WELSH = {"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
WELSH_HOME_HEADING = "Rhannwch yr hyn y gallwch ei wneud"
ENGLISH_HOME_HEADING = "Share what you can do, find the help you need"
TRANSLATIONS = PROJECT_ROOT / "app" / "translations"
WELSH_PO = TRANSLATIONS / "cy" / "LC_MESSAGES" / "messages.po"


def html_lang(page_text: str) -> str:
    return re.search(r'<html lang="([^"]+)"', page_text).group(1)


# --- negotiation (no database) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("cy-GB,cy;q=0.9,en;q=0.8", "cy"),
        ("en-GB,en;q=0.9,cy;q=0.8", "en"),
        ("CY", "cy"),
        ("fr-FR, de;q=0.9, cy;q=0.5", "cy"),  # the best language we have, not the first one sent
        ("en;q=0.2, cy;q=0.7", "cy"),  # quality values, not order, decide
        ("fr-FR, de", None),
        ("cy;q=0, en;q=0", None),  # q=0 means "not this one"
        ("*", None),
        ("cy;q=banana, en", "en"),  # a malformed quality counts as refusal, the rest still works
        ("", None),
        (None, None),
    ],
)
def test_accept_language_negotiation(header, expected):
    assert i18n.negotiate(header) == expected


def test_an_unknown_language_falls_back_to_english_text():
    assert i18n.supported("fr") is None and i18n.supported("cy") == "cy"
    assert i18n.gettext_for("fr")("Sign in") == "Sign in"


def test_field_errors_translate_with_their_parameters():
    error = FieldError("name", N_("Your name must be %(max)s characters or fewer"), {"max": 200})
    assert error.translated(i18n.gettext_for("cy")) == "Rhaid i’ch enw fod yn 200 nod neu lai"
    assert error.translated(i18n.gettext_for("en")) == error.message == "Your name must be 200 characters or fewer"


def test_newstyle_gettext_escapes_variables_but_trusts_the_catalogue():
    env = jinja_env(Settings().templates_dir)
    # Templates from strings are autoescaped, like the .html files.
    template = env.from_string(
        '{% trans name=who %}Signed in as {{ name }}{% endtrans %}|{{ _("Hello %(name)s,", name=who) }}|'
        '{{ said | translate }}|{% trans url="/x" %}Already have an account? <a class="govuk-link" href="{{ url }}">Sign in</a>.{% endtrans %}'
    )
    html = template.render(**i18n.template_context("cy"), who="<b>Bo</b>", said="<script>x</script>")
    assert html == (
        "Wedi mewngofnodi fel &lt;b&gt;Bo&lt;/b&gt;|Helo &lt;b&gt;Bo&lt;/b&gt;,|&lt;script&gt;x&lt;/script&gt;|"
        'Oes gennych chi gyfrif yn barod? <a class="govuk-link" href="/x">Mewngofnodwch</a>.'
    )


def test_translations_are_per_render_not_installed_on_the_shared_environment():
    env = jinja_env(Settings().templates_dir)
    template = env.from_string("{{ _('Sign in') }}")
    assert template.render() == "Sign in"  # the environment's own (null) translations
    assert template.render(**i18n.template_context("cy")) == "Mewngofnodi"
    assert template.render() == "Sign in"  # and nothing leaked into the environment


def test_dates_are_written_in_the_readers_language():
    assert i18n.long_date("en", date(2026, 12, 5)) == "5 December 2026"
    assert i18n.long_date("cy", date(2026, 12, 5)) == "5 Rhagfyr 2026"


# --- pages in a language (real server, real database) --------------------------------------------


def test_a_visitors_browser_language_chooses_the_page_language(client):
    welsh = client.get("/", headers=WELSH)
    assert welsh.status_code == 200
    assert WELSH_HOME_HEADING in welsh.text and ENGLISH_HOME_HEADING not in welsh.text
    assert html_lang(welsh.text) == "cy" and welsh.headers["content-language"] == "cy"
    assert "Mewngofnodi" in welsh.text  # the header link

    english = client.get("/", headers=ENGLISH)
    assert ENGLISH_HOME_HEADING in english.text and html_lang(english.text) == "en-GB"
    assert client.get("/", headers={"Accept-Language": "fr"}).text.count(ENGLISH_HOME_HEADING) == 1


def test_every_page_has_a_switcher_form_with_a_csrf_token_and_the_way_back(client):
    page = client.get("/sign-in?next=/my", headers=ENGLISH)
    form = re.search(r'<form method="post" action="[^"]*/language"[^>]*>(.*?)</form>', page.text, re.S)
    assert form, page.text
    assert re.search(r'name="csrf_token" value="[0-9a-f]{64}"', form.group(1))
    assert 'name="next" value="/sign-in?next=/my"' in form.group(1)
    assert 'name="language" value="cy"' in form.group(1) and 'lang="cy">Cymraeg</button>' in form.group(1)
    # The current language is shown, not offered.
    assert 'aria-current="true">English</span>' in page.text


def test_switching_to_welsh_changes_the_page_text_and_sticks(client):
    response = post_form(client, "/language", {"language": "cy", "next": "/sign-in"})
    assert response.status_code == 303 and response.headers["location"] == "/sign-in"
    assert "marketplace_language=cy" in response.headers["set-cookie"]
    page = client.get("/sign-in", headers=ENGLISH)  # the choice beats the browser's header
    assert html_lang(page.text) == "cy"
    assert '<h1 class="govuk-heading-l">Mewngofnodi</h1>' in page.text
    assert "Cyfeiriad e-bost" in page.text and "Email address" not in page.text

    back = post_form(client, "/language", {"language": "en", "next": "/"}, token_from="/")
    assert back.status_code == 303
    assert ENGLISH_HOME_HEADING in client.get("/", headers=WELSH).text


def test_switching_language_needs_the_csrf_token(client):
    client.get("/")  # a CSRF cookie, but no token sent
    response = client.post("/language", data={"language": "cy", "next": "/"}, follow_redirects=False)
    assert response.status_code == 403
    assert "marketplace_language" not in response.headers.get("set-cookie", "")
    assert ENGLISH_HOME_HEADING in client.get("/").text


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "sign-in"]
)
def test_switching_language_never_redirects_off_the_site(client, target):
    response = post_form(client, "/language", {"language": "cy", "next": target})
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_an_unsupported_language_is_refused(client):
    response = post_form(client, "/language", {"language": "fr", "next": "/"})
    assert response.status_code == 422  # InvalidInput carries its status
    assert "marketplace_language" not in response.headers.get("set-cookie", "")


def test_a_signed_in_persons_choice_is_kept_on_their_account(client, other_client, db, citizen):
    sign_in(client, citizen)
    response = post_form(client, "/language", {"language": "cy", "next": "/account"}, token_from="/")
    assert response.status_code == 303 and response.headers["location"] == "/account"
    language = db.execute(select(Account.language).where(Account.id == citizen.id)).scalar_one()
    assert language == "cy"
    assert html_lang(client.get("/account").text) == "cy"

    # Another device, no language cookie, an English browser: the account's setting wins.
    sign_in(other_client, citizen)
    page = other_client.get("/account", headers=ENGLISH)
    assert html_lang(page.text) == "cy" and '<h1 class="govuk-heading-l">Eich cyfrif</h1>' in page.text
    assert "Dinesydd" in page.text  # the role label, a message id from Python


def test_field_errors_and_flash_messages_are_translated(client, citizen):
    client.cookies.set(i18n.LANGUAGE_COOKIE, "cy")
    refused = post_form(client, "/sign-in", {"email": citizen.email, "password": "wrong-password-entirely"})
    assert refused.status_code == 422
    assert "Mae problem wedi codi" in refused.text
    assert "Rhowch gyfeiriad e-bost a chyfrinair cywir" in refused.text
    assert "Enter a correct email address and password" not in refused.text
    # GOV.UK Frontend's own words are given in Welsh too: the error prefix, the password button.
    assert '<span class="govuk-visually-hidden">Gwall:</span>' in refused.text
    assert re.search(r">\s*Dangos\s*</button>", refused.text) and 'aria-label="Dangos cyfrinair"' in refused.text
    assert 'data-i18n.password-shown-announcement="Mae eich cyfrinair yn weladwy"' in refused.text

    sign_in(client, citizen)
    signed_out = post_form(client, "/sign-out", {}, token_from="/")
    assert signed_out.status_code == 303
    assert "Rydych chi wedi allgofnodi." in client.get("/").text


def test_error_pages_are_translated(client):
    missing = client.get("/no-such-page", headers=WELSH)
    assert missing.status_code == 404
    assert "Heb ddod o hyd i’r dudalen" in missing.text and html_lang(missing.text) == "cy"
    expired = client.post("/language", data={"language": "en"}, headers=WELSH)  # no CSRF cookie at all
    assert expired.status_code == 403 and "Mae eich ffurflen wedi dod i ben" in expired.text


def test_registering_in_welsh_keeps_welsh_on_the_new_account(db):
    from app.accounts import service

    account = service.register_citizen(
        db, email="nia@example.org", password=PASSWORD, password_confirm=PASSWORD, name="Nia", language="cy"
    )
    assert account.language == "cy"
    other = service.register_citizen(
        db, email="gwen@example.org", password=PASSWORD, password_confirm=PASSWORD, name="Gwen", language="xx"
    )
    assert other.language == "en"
    db.rollback()


# --- the migration --------------------------------------------------------------------------------


def test_migration_0007_gives_existing_accounts_english_and_downgrades(databases):
    url = databases.new("lang")
    config = alembic_config(url)
    command.upgrade(config, "0006")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO account (email, name, role, is_active, is_demo, created_at) "
                    "VALUES ('old@example.org', 'Old', 'citizen', true, false, CURRENT_TIMESTAMP)"
                )
            )
        command.upgrade(config, "0007")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT language FROM account")).scalar_one() == "en"
        command.downgrade(config, "0006")
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("account")}
        assert "language" not in columns and "email" in columns
        command.upgrade(config, "head")
    finally:
        engine.dispose()


# --- the catalogues ------------------------------------------------------------------------------


def _extracted_ids() -> set:
    parser = RawConfigParser()
    parser.read(PROJECT_ROOT / "babel.cfg")
    method_map, options_map = [], {}
    for section in parser.sections():
        method, pattern = (part.strip() for part in section.split(":", 1))
        method_map.append((pattern, method))
        options_map[pattern] = dict(parser.items(section))
    # As the Makefile: Babel's default keywords, which include _, N_, gettext and ngettext.
    keywords = {**DEFAULT_KEYWORDS, "_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords=keywords
    ):
        ids.add(message)
    return ids


def test_the_catalogue_template_is_up_to_date_with_the_code():
    """Run `make translations` when this fails: a marked string is missing from the catalogues."""
    with (TRANSLATIONS / "messages.pot").open("rb") as handle:
        template_ids = {m.id for m in read_po(handle) if m.id}
    extracted = _extracted_ids()
    assert extracted - template_ids == set(), "new strings: run make translations"
    assert template_ids - extracted == set(), "strings no longer used: run make translations"


def welsh_catalogue():
    with WELSH_PO.open("rb") as handle:
        return read_po(handle, locale="cy")


# The citizen's pages, which ship with Welsh; staff and admin pages may fall back to English.
CITIZEN_SOURCES = (
    "templates/base.html", "templates/home.html", "templates/errors/", "templates/accounts/sign_in.html",
    "templates/accounts/forgotten_password.html", "templates/accounts/reset_", "templates/accounts/settings.html",
    "templates/registry/register.html", "templates/registry/dashboard.html", "templates/registry/profile.html",
    "templates/registry/step.html", "templates/registry/check.html", "templates/registry/item.html",
    "templates/registry/_summary.html", "templates/registry/_consents.html", "templates/matching/",
    "templates/emails/password_reset.txt", "templates/privacy/notice.html",
    "app/core/", "app/accounts/service.py",
)


def test_the_welsh_catalogue_covers_the_citizen_pages():
    untranslated = [
        m.id
        for m in welsh_catalogue()
        if m.id
        and any(path.startswith(CITIZEN_SOURCES) for path, _line in m.locations)
        and not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    assert untranslated == []


def test_the_welsh_catalogue_is_consistent_and_flagged_for_review():
    catalogue = welsh_catalogue()
    assert "NEEDS REVIEW BY A WELSH SPEAKER" in catalogue.header_comment
    assert catalogue.num_plurals == 6 and not catalogue.fuzzy
    # Fuzzy entries would silently be left out of the compiled catalogue.
    assert [m.id for m in catalogue if m.id and m.fuzzy] == []
    # Every placeholder of the English is in the Welsh, and the other way round.
    assert [(m.id, errors) for m, errors in catalogue.check()] == []
    # The HTML of a message (a link, its class and target) survives translation unchanged.
    for message in catalogue:
        if message.id and message.string:
            english = message.id if isinstance(message.id, str) else message.id[0]
            welsh = message.string if isinstance(message.string, str) else message.string[0]
            assert re.findall(r"<[^>]+>", english) == re.findall(r"<[^>]+>", welsh), message.id


def test_the_compiled_welsh_catalogue_is_built_from_the_current_po():
    mo = WELSH_PO.with_suffix(".mo")
    assert mo.exists(), "run make compile-translations (make install and make test do it)"
    assert mo.stat().st_mtime >= WELSH_PO.stat().st_mtime, "the .mo is older than the .po: run make compile-translations"


def test_every_supported_language_has_a_catalogue():
    for language in i18n.SUPPORTED_LANGUAGES:
        if language != i18n.DEFAULT_LANGUAGE:
            assert (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").is_file()
    assert set(i18n.HTML_LANG) == set(i18n.SUPPORTED_LANGUAGES)


def test_a_visitor_who_registers_in_welsh_gets_a_welsh_account(client, db, places):
    from app.accounts.models import Account
    from sqlalchemy import select

    client.cookies.set("marketplace_language", "cy")
    data = {
        "name": "Gwenllian Jones", "email": "gwen.cy@example.org", "password": "plum-orchard-river-42",
        "password_confirm": "plum-orchard-river-42", "postcode": "AB10 1AB", "consent_profile": "yes",
    }
    assert post_form(client, "/register", data, token_from="/register").status_code == 303
    account = db.execute(select(Account).where(Account.email == "gwen.cy@example.org")).scalar_one()
    assert account.language == "cy"
