from tests.conftest import PASSWORD, post_form, sign_in


def test_register_signs_in_and_shows_account(client, db):
    response = post_form(
        client,
        "/register",
        {"name": "Nia Jones", "email": "Nia@Example.org", "password": PASSWORD, "password_confirm": PASSWORD},
        token_from="/register",
    )
    assert response.status_code == 303
    page = client.get("/account")
    assert page.status_code == 200
    assert "nia@example.org" in page.text


def test_sign_in_with_persona(client, citizen):
    sign_in(client, citizen)
    assert "Cara Citizen" in client.get("/account").text
