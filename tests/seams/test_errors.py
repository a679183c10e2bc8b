"""Errors carry their status; each surface (page, htmx fragment, API) gets its own answer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.core.errors import AppError, Conflict, FieldError, Forbidden, InvalidInput, NotFound

CASES = [
    (NotFound(), 404, "Page not found"),
    (Forbidden(), 403, "You do not have permission to do this"),
    (Conflict(latest={"id": 7, "version": 3}), 409, "Someone else changed this just now. Here is the latest version."),
    (InvalidInput(FieldError("title", "Enter a few words about it")), 422, "There is a problem with what you entered"),
    (AppError("That match has ended", status=410), 410, "That match has ended"),
]


@pytest.fixture()
def raising_app(app):
    def raiser(number: int):
        raise CASES[number][0]

    app.add_api_route("/test-raise/{number}", raiser, methods=["GET"], include_in_schema=False)
    app.add_api_route("/api/v1/test-raise/{number}", raiser, methods=["GET"], include_in_schema=False)
    return app


@pytest.mark.parametrize("number", range(len(CASES)))
def test_the_api_answers_json_with_the_errors_status(raising_app, number):
    error, status, message = CASES[number]
    with TestClient(raising_app) as client:
        response = client.get(f"/api/v1/test-raise/{number}")
    assert response.status_code == status
    body = response.json()
    if isinstance(error, InvalidInput):
        assert body == {"errors": [{"field": "title", "message": "Enter a few words about it"}]}
    elif isinstance(error, Conflict):
        assert body == {"detail": message, "latest": {"id": 7, "version": 3}}
    else:
        assert body == {"detail": message}


@pytest.mark.parametrize("number", range(len(CASES)))
def test_a_page_gets_the_friendly_error_page_with_the_status(raising_app, number):
    _error, status, _message = CASES[number]
    with TestClient(raising_app) as client:
        response = client.get(f"/test-raise/{number}")
    assert response.status_code == status
    assert "<html" in response.text and "Go to the home page" in response.text


@pytest.mark.parametrize("number", range(len(CASES)))
def test_htmx_gets_the_message_in_place_not_a_whole_page(raising_app, number):
    error, status, message = CASES[number]
    with TestClient(raising_app) as client:
        response = client.get(f"/test-raise/{number}", headers={"HX-Request": "true"})
    assert response.status_code == status
    assert response.headers["X-Error-Fragment"] == "1"
    assert "<html" not in response.text and "govuk-error-summary" in response.text
    assert message.split(".")[0].replace("'", "&#39;") in response.text
    if isinstance(error, InvalidInput):
        assert "Enter a few words about it" in response.text


def test_an_htmx_request_with_a_bad_query_gets_a_fragment(client, resident):
    from tests.conftest import sign_in

    sign_in(client, resident)
    response = client.get("/skills/picker", params={"q": "x" * 101}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "<html" not in response.text and "Sorry, there is a problem with that request" in response.text


def test_an_unexpected_error_on_htmx_is_a_fragment_too(app):
    def boom():
        raise RuntimeError("nothing personal")

    app.add_api_route("/test-htmx-boom", boom, methods=["GET"], include_in_schema=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test-htmx-boom", headers={"HX-Request": "true"})
    assert response.status_code == 500
    assert "<html" not in response.text and "govuk-error-summary" in response.text
