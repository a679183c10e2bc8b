"""Real-browser fixtures: one uvicorn process per database backend, one Debian Chromium per run.

The live server is a separate process, so these tests cannot use the rolled-back transaction of
tests/conftest.py: each backend gets its own fresh database (from the `databases` fixture), migrated
and given an admin through the `marketplace` command, exactly as an operator would.
"""

from __future__ import annotations

import email
import email.policy
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ASSETS = ROOT / "app" / "static" / "dist" / "app.css"
POSTCODES = ROOT / "tests" / "data" / "onspd_sample.csv"  # real ONSPD rows; registration needs a known postcode

ADMIN_EMAIL = "ada.admin@browser.example.org"
ADMIN_NAME = "Ada Admin"
ADMIN_PASSWORD = "copper-kestrel-lantern-71"
SERVER_START_SECONDS = 30


def _required(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


# --- the live server -------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    backend: str
    outbox: Path
    log: Path
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD
    process: subprocess.Popen | None = field(default=None, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def messages_to(self, address: str) -> list[email.message.EmailMessage]:
        """Mail the dev mailer wrote to the outbox for one recipient, oldest first."""
        found = []
        for path in sorted(self.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] and message["To"].addresses[0].addr_spec.lower() == address.lower():
                found.append(message)
        return found

    def reset_link_for(self, address: str, timeout: float = 5.0) -> str:
        """The password-reset link from the newest mail to this address."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages_to(address)
            if messages:
                body = messages[-1].get_body(preferencelist=("plain",)).get_content()
                match = re.search(r"(https?://\S+/reset-password\?token=[A-Za-z0-9_\-]+)", body)
                assert match, f"no reset link in the mail to {address}:\n{body}"
                return match.group(1)
            if time.monotonic() > deadline:
                names = sorted(p.name for p in self.outbox.glob("*.eml"))
                raise AssertionError(f"no mail to {address} in {self.outbox} (files: {names})")
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(**values: str) -> dict[str, str]:
    # Nothing from the developer's own MARKETPLACE_* settings leaks in (an SMTP host would
    # stop mail reaching the outbox, a production environment would refuse to start).
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(values)
    return env


def _marketplace(args: list[str], env: dict[str, str], *, stdin: str | None = None) -> None:
    command = Path(sys.executable).parent / "marketplace"
    result = subprocess.run(
        [str(command), *args], input=stdin, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(
            f"`marketplace {args[0]}` failed with exit code {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )


def _load_postcodes(database_url: str) -> None:
    from app.core.db import make_engine
    from app.registry.importer import import_postcodes

    engine = make_engine(database_url)
    try:
        result = import_postcodes(engine, POSTCODES, progress=io.StringIO())
    finally:
        engine.dispose()
    assert result.imported > 0, result


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited with code {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    pytest.fail(f"uvicorn did not answer /healthz within {SERVER_START_SECONDS}s:\n{log.read_text(errors='replace')}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test shows the end of the server's log beside its own traceback."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("live_server")
    if report.failed and isinstance(server, LiveServer):
        report.sections.append((f"uvicorn log ({server.backend}, last lines)", server.log_tail()))


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if _required("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(chromium_executable, databases, tmp_path_factory) -> Iterator[LiveServer]:
    """A real uvicorn process on a fresh, CLI-migrated database of this backend, with the sample
    postcodes loaded (registration needs a postcode the service knows)."""
    if not ASSETS.exists():
        pytest.fail(f"{ASSETS.relative_to(ROOT)} is missing: build the front-end assets with `make assets`")
    work = tmp_path_factory.mktemp(f"live-{databases.backend}")
    database_url = databases.new("browser")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    outbox = work / "outbox"
    env = _server_env(
        MARKETPLACE_ENVIRONMENT="test",
        MARKETPLACE_DATABASE_URL=database_url,
        MARKETPLACE_OUTBOX_DIR=str(outbox),
        MARKETPLACE_BASE_URL=url,  # so the links in the mail point at this server
        MARKETPLACE_JOBS_IMMEDIATE="1",  # mail jobs run in the server process (tests/core/test_jobs.py runs a worker)
    )
    _marketplace(["migrate"], env)
    _marketplace(
        ["create-user", "--email", ADMIN_EMAIL, "--name", ADMIN_NAME, "--role", "admin", "--password-stdin"],
        env,
        stdin=ADMIN_PASSWORD + "\n",
    )
    _load_postcodes(database_url)

    log = work / "uvicorn.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=url, backend=databases.backend, outbox=outbox, log=log, process=process)
    try:
        _wait_until_healthy(url, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(chromium_executable), args=CHROMIUM_ARGS)
    except Exception as exc:
        playwright.stop()
        if _required("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER=1 but Chromium would not start: {exc}")
        pytest.skip(f"Chromium would not start: {type(exc).__name__}")
    yield browser
    browser.close()
    playwright.stop()


class PageWatcher:
    """Everything a page said on its console, and every uncaught error."""

    # Chromium logs a page's own 4xx status on the console ("Failed to load resource"); the tests
    # expect those for pages (a form with errors answers 422), never for a stylesheet or a script.
    PAGE_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d\b")

    def __init__(self):
        self.console: list[tuple[str, str, str]] = []  # (type, text, url)
        self.errors: list[str] = []

    def attach(self, page) -> None:
        page.on("console", lambda m: self.console.append((m.type, m.text, m.location.get("url", ""))))
        page.on("pageerror", lambda error: self.errors.append(f"{error.name}: {error.message}"))

    def _expected(self, text: str, url: str) -> bool:
        path = urlsplit(url).path
        return bool(self.PAGE_STATUS.search(text)) and not path.startswith("/static/")

    def problems(self) -> list[str]:
        bad = [
            f"[{kind}] {text} ({url})"
            for kind, text, url in self.console
            if "Content Security Policy" in text
            or (kind in ("error", "warning") and not self._expected(text, url))
        ]
        return bad + [f"[uncaught] {e}" for e in self.errors]

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, "the browser reported problems:\n" + "\n".join(problems)


def _context(browser, live_server: LiveServer, **options):
    context = browser.new_context(base_url=live_server.url, locale="en-GB", **options)
    context.set_default_timeout(10_000)
    return context


@pytest.fixture()
def watcher() -> PageWatcher:
    return PageWatcher()


@pytest.fixture()
def page(browser, live_server, watcher) -> Iterator:
    """A page in an ordinary context: JavaScript on, the site's CSP enforced."""
    context = _context(browser, live_server)
    page = context.new_page()
    watcher.attach(page)
    yield page
    context.close()


@pytest.fixture()
def no_js_page(browser, live_server, watcher) -> Iterator:
    """A page with JavaScript switched off: every page must still work."""
    context = _context(browser, live_server, java_script_enabled=False)
    page = context.new_page()
    watcher.attach(page)
    yield page
    context.close()


@pytest.fixture()
def axe_pages(browser, live_server) -> Iterator:
    """Opens pages whose CSP is bypassed so that axe-core can be injected (never use them for CSP
    checks), optionally already signed in from a saved storage state."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS.relative_to(ROOT)} is missing: run `npm ci`")
    contexts = []

    def open_page(storage_state: dict | None = None):
        context = _context(browser, live_server, bypass_csp=True, storage_state=storage_state)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


# --- people signed in once per server, for pages that only need someone signed in ------------
# Nothing may sign these out or change their passwords: that would end the saved session.


@dataclass(frozen=True)
class SignedIn:
    name: str
    email: str
    password: str
    storage_state: dict


def _signed_in(browser, live_server: LiveServer, act) -> dict:
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        act(page)
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture(scope="session")
def shared_citizen(browser, live_server) -> SignedIn:
    from tests.browser.helpers import new_person, register

    person = new_person("shared-citizen", name="Cara Citizen")
    state = _signed_in(browser, live_server, lambda page: register(page, person))
    return SignedIn(person.name, person.email, person.password, state)


@pytest.fixture(scope="session")
def shared_admin(browser, live_server) -> SignedIn:
    from tests.browser.helpers import sign_in

    state = _signed_in(
        browser,
        live_server,
        lambda page: sign_in(page, live_server.admin_email, live_server.admin_password, name=ADMIN_NAME),
    )
    return SignedIn(ADMIN_NAME, live_server.admin_email, live_server.admin_password, state)


@pytest.fixture()
def signed_in_page(browser, live_server, watcher):
    """Opens a page in an ordinary context (JavaScript on, CSP enforced, watched) with a saved
    session, such as `portal_citizen.who.storage_state`."""
    contexts = []

    def open_page(storage_state: dict):
        context = _context(browser, live_server, storage_state=storage_state)
        contexts.append(context)
        page = context.new_page()
        watcher.attach(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


# --- a citizen with an offer or request in every state, for pages that only read them --------
# Tests may open these items and submit answers the server refuses; nothing may change them.


@dataclass(frozen=True)
class PortalCitizen:
    who: SignedIn
    offer_live: int  # Tuesday mornings and Saturday afternoons
    offer_paused: int
    offer_closed: int
    offer_draft: int  # only question 1 answered
    offer_draft_complete: int  # every answer given, not live yet
    request_live: int
    request_draft: int  # only question 1 answered


def _api_item(api, auth: dict, path: str, body: dict, status: str | None = None) -> int:
    response = api.post(f"/api/v1/{path}", data=body, headers=auth)
    assert response.status == 201, response.text()
    item_id = response.json()["id"]
    if status == "paused":
        response = api.patch(f"/api/v1/{path}/{item_id}", data={"status": "paused"}, headers=auth)
        assert response.ok and response.json()["status"] == "paused", response.text()
    elif status == "closed":
        response = api.delete(f"/api/v1/{path}/{item_id}", headers=auth)
        assert response.ok and response.json()["status"] == "closed", response.text()
    return item_id


def _draft(page, path: str, title: str) -> int:
    from tests.browser.helpers import answer_about, expect_no_errors, submit

    page.goto(f"/{path}/new")
    answer_about(page, title)
    submit(page, "Continue")
    expect_no_errors(page)
    match = re.search(rf"/{path}/(\d+)/steps/skills$", page.url)
    assert match, page.url
    return int(match.group(1))


@pytest.fixture(scope="session")
def portal_citizen(browser, live_server) -> PortalCitizen:
    from playwright.sync_api import expect

    from tests.browser.helpers import answer_travel, heading, new_person, register, submit, tick_skills, tick_times

    person = new_person("portal-citizen", name="Pat Portal")
    context = _context(browser, live_server)
    try:
        page = context.new_page()
        register(page, person, matching=True, share_contact=True)

        # Live, paused and closed items through the API, which is quicker: test_portal.py does
        # the same through the pages.
        api = context.request
        token = api.post("/api/v1/auth/token", data={"email": person.email, "password": person.password})
        assert token.ok, token.text()
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        offer = {
            "title": "Help with computers and phones",
            "description": "Setting up email, video calls and online shopping.",
            "skills": ["it_help", "smartphone_help"],
            "mode": "either",
            "max_distance_km": 5,
            "availability": ["tue-am", "sat-pm"],
            "capacity": 2,
        }
        offer_live = _api_item(api, auth, "offers", offer)
        paused = offer | {"title": "Gardening on Sundays", "skills": ["gardening"]}
        closed = offer | {"title": "Baking for the lunch club", "skills": ["baking"]}
        offer_paused = _api_item(api, auth, "offers", paused, "paused")
        offer_closed = _api_item(api, auth, "offers", closed, "closed")
        request = {"title": "A lift to the shops on Fridays", "skills": ["lifts"], "mode": "in_person",
                   "max_distance_km": 3, "availability": ["fri-am"], "urgency": "high"}
        request_live = _api_item(api, auth, "help-requests", request)

        # Drafts through the journey pages.
        offer_draft = _draft(page, "offers", "Chats over a cup of tea")
        request_draft = _draft(page, "requests", "Someone to walk with")
        offer_draft_complete = _draft(page, "offers", "Fixing bikes")
        tick_skills(page, "Bike repairs")
        submit(page, "Continue")
        tick_times(page, "Saturday Morning")
        submit(page, "Continue")
        answer_travel(page, mode="In person", distance="Up to 3 km", capacity="1")
        submit(page, "Continue")
        expect(heading(page)).to_have_text("Check your answers")
        expect(page.get_by_role("button", name="Make it live")).to_be_visible()

        who = SignedIn(person.name, person.email, person.password, context.storage_state())
    finally:
        context.close()
    return PortalCitizen(
        who, offer_live, offer_paused, offer_closed, offer_draft, offer_draft_complete, request_live, request_draft
    )
