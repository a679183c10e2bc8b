"""Security headers: CSP without inline script, framing refused, nosniff, referrer, HSTS, no-store."""

from __future__ import annotations

import secrets
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import sign_in

CDN_URL = "https://cdn.example.net/npm/htmx.org@2.0.4/dist/htmx.min.js"
CDN_INTEGRITY = "sha384-HGfztofotfshcF7+8n44JQL2oJmowVChPTg48S+jvZoztPfvwD79OC/LTtG6dMp+"


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"directive {words[0]} given twice"
            directives[words[0]] = words[1:]
    return directives


class ScriptAudit(HTMLParser):
    """Collects every <script> (its attributes and body) and every inline event-handler attribute."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict] = []
        self.handlers: list[tuple[str, str]] = []
        self.javascript_urls: list[str] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-on"):
                self.handlers.append((tag, name))
            is_url = name in ("href", "src", "action", "formaction")
            if is_url and (value or "").strip().lower().startswith("javascript:"):
                self.javascript_urls.append(value)
        if tag == "script":
            self._in_script = {"attrs": attributes, "body": ""}
            self.scripts.append(self._in_script)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script["body"] += data


def audit(html: str) -> ScriptAudit:
    parser = ScriptAudit()
    parser.feed(html)
    parser.close()
    return parser


def production_settings(settings: Settings) -> Settings:
    return Settings(
        environment="production",
        secret_key=secrets.token_urlsafe(36),
        smtp_host="127.0.0.1",
        database_url=settings.database_url,
        outbox_dir=settings.outbox_dir,
    )


ANONYMOUS_PAGES = ["/", "/sign-in", "/register", "/forgotten-password", "/no-such-page"]


# --- Content-Security-Policy -------------------------------------------------------------------


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_csp_allows_only_own_scripts_and_forbids_framing(client, path):
    response = client.get(path)
    csp = csp_directives(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    header = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in header
    assert "'unsafe-eval'" not in header
    assert "http:" not in header and "https:" not in header


def test_csp_is_sent_on_error_pages_and_the_api(client):
    for path in ("/no-such-page", "/api/v1/me", "/healthz"):
        response = client.get(path)
        assert csp_directives(response)["frame-ancestors"] == ["'none'"], path
        assert response.headers["x-content-type-options"] == "nosniff", path


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_other_security_headers(client, path):
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in {
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"
    }
    assert response.headers["x-frame-options"] == "DENY"


def test_no_hsts_outside_production(client):
    assert "strict-transport-security" not in client.get("/").headers


def test_hsts_in_production(settings, engine, session_factory):
    app = create_app(production_settings(settings), engine=engine, session_factory=session_factory)
    with TestClient(app, base_url="https://testserver") as client:
        for path in ("/", "/sign-in", "/healthz", "/no-such-page"):
            hsts = client.get(path).headers["strict-transport-security"]
            max_age = int(hsts.split("max-age=")[1].split(";")[0])
            assert max_age >= 31536000, path


# --- no inline script --------------------------------------------------------------------------


def _assert_no_inline_script(html: str, where: str) -> None:
    found = audit(html)
    assert found.scripts, f"{where}: expected the page's external scripts"
    for script in found.scripts:
        assert script["attrs"].get("src"), f"{where}: inline <script> without src: {script}"
        assert script["body"].strip() == "", f"{where}: <script src> with inline code"
    assert found.handlers == [], f"{where}: inline event handlers {found.handlers}"
    assert found.javascript_urls == [], f"{where}: javascript: URLs {found.javascript_urls}"


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_anonymous_pages_have_no_inline_script(client, path):
    _assert_no_inline_script(client.get(path).text, path)


def test_signed_in_pages_have_no_inline_script(client, admin, citizen):
    sign_in(client, admin)
    for path in ("/", "/account", "/admin/accounts"):
        response = client.get(path)
        assert response.status_code == 200, path
        _assert_no_inline_script(response.text, path)


def test_a_registered_citizens_pages_have_no_inline_script_and_are_not_stored(client, places):
    from tests.conftest import PASSWORD, post_form

    data = {
        "name": "Hywel Dda",
        "email": "hywel@example.org",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "postcode": "AB10 1AB",
        "consent_profile": "yes",
    }
    assert post_form(client, "/register", data, token_from="/register").status_code == 303
    for path in ("/my", "/profile", "/account"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response.headers["cache-control"], path
        _assert_no_inline_script(response.text, path)


def test_htmx_is_self_hosted_by_default(client):
    scripts = [s["attrs"] for s in audit(client.get("/").text).scripts]
    sources = [s["src"] for s in scripts]
    assert "/static/dist/htmx.min.js" in sources
    assert all(src.startswith("/") and not src.startswith("//") for src in sources)
    assert client.get("/static/dist/htmx.min.js").status_code == 200


# --- htmx from a CDN, when a council chooses it -------------------------------------------------


def test_htmx_from_a_cdn_uses_the_url_and_integrity_and_csp_allows_exactly_that_origin(
    settings, engine, session_factory
):
    cdn_settings = settings.model_copy(update={"htmx_url": CDN_URL, "htmx_integrity": CDN_INTEGRITY})
    app = create_app(cdn_settings, engine=engine, session_factory=session_factory)
    with TestClient(app) as client:
        response = client.get("/")
    scripts = [s["attrs"] for s in audit(response.text).scripts]
    htmx = [s for s in scripts if s.get("src") == CDN_URL]
    assert len(htmx) == 1
    assert htmx[0]["integrity"] == CDN_INTEGRITY
    assert htmx[0]["crossorigin"] == "anonymous"
    assert "/static/dist/htmx.min.js" not in [s.get("src") for s in scripts]
    assert csp_directives(response)["script-src"] == ["'self'", "https://cdn.example.net"]
    _assert_no_inline_script(response.text, "/ with CDN htmx")


# --- caching of personal data ------------------------------------------------------------------


def test_account_page_is_not_stored(client, citizen):
    sign_in(client, citizen)
    response = client.get("/account")
    assert response.status_code == 200
    assert citizen.email in response.text
    assert "no-store" in response.headers["cache-control"]


def test_admin_accounts_page_is_not_stored(client, admin, citizen):
    sign_in(client, admin)
    response = client.get("/admin/accounts")
    assert response.status_code == 200
    assert citizen.email in response.text
    assert "no-store" in response.headers["cache-control"]


def test_api_answers_with_personal_data_are_not_stored(client, citizen):
    from tests.conftest import api_token

    response = client.get("/api/v1/me", headers=api_token(client, citizen))
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]


def test_sign_in_redirect_and_error_pages_are_not_stored(client, citizen):
    response = sign_in(client, citizen)
    assert "no-store" in response.headers["cache-control"]
    assert "no-store" in client.get("/no-such-page").headers["cache-control"]


def test_static_assets_may_be_cached(client):
    response = client.get("/static/dist/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers["cache-control"]
