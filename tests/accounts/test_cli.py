"""The `marketplace` command, run as a real process against a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
