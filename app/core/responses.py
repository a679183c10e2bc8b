"""Responses every domain's pages use: after a POST, and when someone must sign in first."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from app.core.templating import set_flash


def see_other(request: Request, url: str, *, flash: str | None = None) -> Response:
    """After a POST: 303 for plain browsers, HX-Redirect for htmx."""
    if request.headers.get("HX-Request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash:
        set_flash(response, flash, secure=request.app.state.settings.is_production)
    return response


def redirect_to_sign_in(request: Request, next_path: str) -> Response:
    """Send someone to sign in, and back to `next_path` (a same-site path) afterwards."""
    target = request.url_for("accounts:sign_in").include_query_params(next=next_path)
    location = f"{target.path}?{target.query}"
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)
