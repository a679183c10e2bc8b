"""Route paths by name come from a cache, with the same answers as the routes themselves."""

from __future__ import annotations

import pytest
from starlette.routing import NoMatchFound

from app.main import create_app


def test_cached_paths_are_the_routes_own_and_unknown_names_still_fail(settings, engine, session_factory):
    app = create_app(settings, engine=engine, session_factory=session_factory)
    cached = app.router.url_path_for
    assert cached("registry:dashboard") == "/my"
    assert cached("registry:offers_item", item_id=7) == "/offers/7"
    assert cached("registry:offers_item", item_id=8) == "/offers/8"
    before = cached.cache_info().hits
    assert cached("registry:dashboard") == "/my"
    assert cached.cache_info().hits == before + 1
    with pytest.raises(NoMatchFound):
        cached("registry:no_such_page")
    with pytest.raises(NoMatchFound):
        cached("registry:offers_item")  # a parameter missing is still refused
