"""A small demo borough with a year of history (matches, casework), on the test's database."""

from __future__ import annotations

import pytest

from app.core.db import utcnow
from app.devtools import demo
from app.devtools.demo_history import generate_history

PEOPLE = 600


@pytest.fixture()
def borough(db, settings):
    demo.ensure_demo_accounts(db, templates_dir=str(settings.templates_dir))
    db.commit()
    summary = demo.generate_borough(db, people=PEOPLE, seed=7)
    history = generate_history(db, seed=7, now=utcnow(), linker_id=demo.demo_linker_id(db))
    db.commit()
    return {**summary, **history}
