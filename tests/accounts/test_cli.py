"""The `marketplace` command, run as a real process against a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlmodel import Session

from app.accounts.models import Account, Role
from app.core.security import verify_password

MARKETPLACE = str(Path(sys.executable).parent / "marketplace")


def run(args, database_url, stdin=""):
    env = {**os.environ, "MARKETPLACE_DATABASE_URL": database_url, "MARKETPLACE_ENVIRONMENT": "test"}
    return subprocess.run([MARKETPLACE, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120)


def test_migrate_then_create_the_first_admin(databases):
    url = databases.new("cli")
    assert run(["migrate"], url).returncode == 0
    result = run(["create-user", "--email", "Boss@Example.org", "--role", "admin", "--password-stdin"], url,
                 stdin="tangerine-quarry-salmon-4\n")
    assert result.returncode == 0, result.stderr
    assert "tangerine" not in result.stdout + result.stderr
    engine = create_engine(url)
    with Session(engine) as db:
        admin = db.execute(select(Account).where(Account.email == "boss@example.org")).scalar_one()
        assert admin.role is Role.admin and not admin.is_demo
        assert verify_password("tangerine-quarry-salmon-4", admin.password_hash)
    engine.dispose()

    weak = run(["create-user", "--email", "weak@example.org", "--role", "admin", "--password-stdin"], url, stdin="password\n")
    assert weak.returncode == 2 and "password" in weak.stderr
    duplicate = run(["create-user", "--email", "boss@example.org", "--role", "staff", "--password-stdin"], url,
                    stdin="tangerine-quarry-salmon-4\n")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr


def test_seed_demo_creates_one_account_per_role_and_is_idempotent(databases):
    url = databases.new("seed")
    assert run(["migrate"], url).returncode == 0
    for _ in range(2):
        result = run(["seed-demo"], url)
        assert result.returncode == 0, result.stderr
    assert "admin@demo.example" in result.stdout
    engine = create_engine(url)
    with Session(engine) as db:
        demo = db.execute(select(Account).where(Account.is_demo.is_(True))).scalars().all()
        assert sorted(a.role.value for a in demo) == ["admin", "citizen", "linker", "staff"]
    engine.dispose()


def test_serve_refuses_production_with_the_development_secret(databases):
    url = databases.new("prod")
    result = subprocess.run(
        [MARKETPLACE, "serve", "--port", "1"],
        env={**os.environ, "MARKETPLACE_DATABASE_URL": url, "MARKETPLACE_ENVIRONMENT": "production"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "MARKETPLACE_SECRET_KEY" in result.stderr


# --- a citizen made on the command line has a profile ----------------------------------------


def test_create_user_citizen_gets_a_profile_and_can_open_their_dashboard(databases, tmp_path):
    from fastapi.testclient import TestClient

    from app.core.config import Settings
    from app.main import create_app
    from app.privacy.models import ConsentRecord
    from app.registry.models import Person
    from tests.conftest import sign_in

    url = databases.new("citizen")
    assert run(["migrate"], url).returncode == 0
    password = "tangerine-quarry-salmon-4"
    made = run(["create-user", "--email", "Cara@Example.org", "--name", "Cara Citizen", "--role", "citizen",
                "--password-stdin"], url, stdin=password + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    staff = run(["create-user", "--email", "sam@example.org", "--role", "staff", "--password-stdin"], url,
                stdin=password + "\n")  # fmt: skip
    assert staff.returncode == 0, staff.stderr

    engine = create_engine(url)
    with Session(engine) as db:
        account = db.execute(select(Account).where(Account.email == "cara@example.org")).scalar_one()
        people = db.execute(select(Person)).scalars().all()
        assert [(p.account_id, p.name, p.email, p.postcode) for p in people] == [
            (account.id, "Cara Citizen", "cara@example.org", None)
        ]  # only the citizen has one, without a postcode
        assert db.execute(select(ConsentRecord)).scalars().all() == []  # consents are theirs to give
    engine.dispose()

    settings = Settings(environment="test", database_url=url, outbox_dir=tmp_path / "outbox")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in(client, "cara@example.org", password)
        dashboard = client.get("/my")
        assert dashboard.status_code == 200, dashboard.text
        assert "Your offers and requests" in dashboard.text
        for path in ("/profile", "/account", "/offers/new"):
            assert client.get(path).status_code == 200, path


# --- serve: emailed links point at the address being served -----------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(url: str, port: int, outbox: Path, log: Path, **extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKETPLACE_")}
    env.update(MARKETPLACE_DATABASE_URL=url, MARKETPLACE_ENVIRONMENT="development",
               MARKETPLACE_OUTBOX_DIR=str(outbox), MARKETPLACE_JOBS_IMMEDIATE="1", **extra)  # fmt: skip
    with log.open("wb") as handle:
        return subprocess.Popen([MARKETPLACE, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=handle, stderr=subprocess.STDOUT)  # fmt: skip


def _reset_link(outbox: Path, timeout: float = 10.0) -> str:
    import email
    import email.policy
    import re
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",)).get_content()
            found = re.search(r"(https?://\S+/reset-password\?token=\S+)", body)
            assert found, body
            return found.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no mail in {outbox}")


@pytest.mark.parametrize("explicit", [None, "https://marketplace.example.gov.uk"])
def test_serve_makes_emailed_links_point_at_the_served_port(databases, tmp_path, explicit):
    import re
    import time

    import httpx

    url = databases.new("serve")
    assert run(["migrate"], url).returncode == 0
    password = "tangerine-quarry-salmon-4"
    assert run(["create-user", "--email", "nia@example.org", "--role", "citizen", "--password-stdin"], url,
               stdin=password + "\n").returncode == 0  # fmt: skip
    port = _free_port()
    assert port != 8000
    outbox, log = tmp_path / "outbox", tmp_path / "serve.log"
    process = _serve(url, port, outbox, log, **({"MARKETPLACE_BASE_URL": explicit} if explicit else {}))
    served = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=served, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            page = client.get("/forgotten-password")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            sent = client.post("/forgotten-password", data={"csrf_token": token, "email": "nia@example.org"})
            assert sent.status_code == 200, sent.text
            link = _reset_link(outbox)
            if explicit:
                assert link.startswith(f"{explicit}/reset-password?token="), link
            else:
                assert link.startswith(f"{served}/reset-password?token="), link
                assert client.get(link).status_code == 200  # the link opens the reset page here
    finally:
        process.terminate()
        process.wait(timeout=10)
