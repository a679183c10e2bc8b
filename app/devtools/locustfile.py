"""The load test's people, for locust (run by `marketplace bench load`, headless, in its own
process: locust patches the standard library with gevent, so it never runs inside the app).

A plan file (its path in MARKETPLACE_LOAD_PLAN) holds signed-in sessions made in the database
beforehand: citizens with their offers and requests, a linker with a caseload, a member of staff.
Each simulated person picks one session and behaves as such a person would, with pauses."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import ClassVar

from locust import HttpUser, between, task

PLAN = json.loads(Path(os.environ["MARKETPLACE_LOAD_PLAN"]).read_text(encoding="utf-8"))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class _Person(HttpUser):
    abstract = True
    wait_time = between(1, 4)
    sessions: ClassVar[list] = []

    def on_start(self) -> None:
        self.me = random.choice(self.sessions)
        self.client.cookies.set(PLAN["cookie_name"], self.me["token"])

    def page(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")


class Citizen(_Person):
    weight = 7
    sessions: ClassVar[list] = PLAN["citizens"]

    @task(4)
    def dashboard(self) -> None:
        self.page("/my", "/my")

    @task(2)
    def an_item(self) -> None:
        if self.me["offers"]:
            self.page(f"/offers/{self.me['offers'][0]}", "/offers/{id}")
        elif self.me["requests"]:
            self.page(f"/requests/{self.me['requests'][0]}", "/requests/{id}")

    @task(2)
    def suggestions(self) -> None:
        if self.me["requests"]:
            self.page(f"/requests/{self.me['requests'][0]}/suggestions", "/requests/{id}/suggestions")
        elif self.me["offers"]:
            self.page(f"/offers/{self.me['offers'][0]}/suggestions", "/offers/{id}/suggestions")

    @task(1)
    def matches(self) -> None:
        self.page("/matches", "/matches")

    @task(1)
    def edit_an_item(self) -> None:
        if not self.me["edits"]:  # no consent to matching, or nothing open to change: browse instead
            return self.dashboard()
        kind, item_id = self.me["edits"]
        path = f"/{kind}/{item_id}/steps/about"
        form = self.client.get(path, name=f"/{kind}/{{id}}/steps/about")
        found = CSRF.search(form.text)
        if not found:
            return
        with self.client.post(
            path, name=f"POST /{kind}/{{id}}/steps/about", allow_redirects=False, catch_response=True,
            data={"csrf_token": found.group(1), "title": f"Help with things {random.randint(1, 999)}",
                  "description": "Updated during the load test", "action": "save"},
        ) as response:  # fmt: skip
            if response.status_code != 303:
                found = re.search(r'<ul class="govuk-list govuk-error-summary__list">(.*?)</ul>', response.text, re.DOTALL)
                summary = re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip() if found else ""
                response.failure(f"{response.status_code} {summary}")


class Linker(_Person):
    weight = 2
    sessions: ClassVar[list] = [PLAN["linker"]]

    @task(3)
    def dashboard(self) -> None:
        self.page("/linkers", "/linkers")

    @task(2)
    def a_person(self) -> None:
        self.page(f"/linkers/people/{random.choice(PLAN['linker']['people'])}", "/linkers/people/{id}")

    @task(1)
    def overdue(self) -> None:
        self.page("/linkers?need=follow_up_overdue", "/linkers?need=")


class Staff(_Person):
    weight = 1
    sessions: ClassVar[list] = [PLAN["staff"]]

    @task(2)
    def summary(self) -> None:
        self.page("/reports", "/reports")

    @task(1)
    def by_ward(self) -> None:
        self.page("/reports/participation?by=ward", "/reports/participation")
