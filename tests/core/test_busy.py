"""Under a crowd: the pool is as big as the thread pool, and beyond a short queue new requests
get a friendly 503 with Retry-After at once instead of hanging."""

from __future__ import annotations

import asyncio
import concurrent.futures

import httpx
import pytest

from app.core.config import Settings
from app.main import BACKGROUND_CONNECTIONS, create_app, pool_options


@pytest.fixture()
def busy_app(settings, engine, session_factory):
    tight = settings.model_copy(update={"db_pool_size": 2, "busy_queue": 1})
    app = create_app(tight, engine=engine, session_factory=session_factory)
    release = asyncio.Event()

    async def slow() -> dict:
        await release.wait()
        return {"ok": True}

    app.add_api_route("/api/v1/test-slow", slow, methods=["GET"], include_in_schema=False)
    app.add_api_route("/test-slow", slow, methods=["GET"], include_in_schema=False)
    app.state.release = release
    return app


@pytest.mark.parametrize("path", ["/api/v1/test-slow", "/test-slow"])
def test_beyond_the_threads_and_a_short_queue_new_requests_get_503_at_once(busy_app, path):
    async def crowd():
        transport = httpx.ASGITransport(app=busy_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            waiting = [asyncio.create_task(client.get(path)) for _ in range(3)]  # 2 threads + 1 queued
            await asyncio.sleep(0.05)
            refused = await asyncio.wait_for(client.get(path), timeout=2)  # answered at once
            health = await client.get("/healthz")  # never refused: the load balancer must see us
            busy_app.state.release.set()
            served = await asyncio.gather(*waiting)
            return refused, health, served

    # In a thread of its own: the browser tests' Playwright keeps an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        refused, health, served = pool.submit(asyncio.run, crowd()).result(timeout=30)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
    assert ("busy" in refused.text) and "Traceback" not in refused.text
    assert health.status_code == 200
    assert [r.status_code for r in served] == [200, 200, 200]


def test_no_more_requests_are_inside_the_app_than_threads_and_the_rest_wait_their_turn(settings, engine, session_factory):
    """Each request holds its connection across several thread hops: with more requests inside
    than connections, they could all wait on each other until the pool timeout."""
    app = create_app(
        settings.model_copy(update={"db_pool_size": 2, "busy_queue": 10}), engine=engine, session_factory=session_factory
    )
    inside = {"now": 0, "most": 0}

    async def counted() -> dict:
        inside["now"] += 1
        inside["most"] = max(inside["most"], inside["now"])
        await asyncio.sleep(0.05)
        inside["now"] -= 1
        return {"ok": True}

    app.add_api_route("/api/v1/test-counted", counted, methods=["GET"], include_in_schema=False)

    async def crowd():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await asyncio.gather(*(client.get("/api/v1/test-counted") for _ in range(8)))

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answers = pool.submit(asyncio.run, crowd()).result(timeout=30)
    assert [a.status_code for a in answers] == [200] * 8, "all 8 were served: 2 inside, the rest queued"
    assert inside["most"] == 2


def test_the_pool_is_sized_to_the_thread_pool():
    options = pool_options(Settings(environment="test", db_pool_size=7))
    assert options == {"pool_size": 7, "max_overflow": BACKGROUND_CONNECTIONS, "pool_timeout": 5.0}


def test_a_worker_uses_as_many_threads_as_connections(settings, engine, session_factory):
    import anyio
    from fastapi.testclient import TestClient

    app = create_app(settings.model_copy(update={"db_pool_size": 9}), engine=engine, session_factory=session_factory)
    with TestClient(app) as client:
        tokens = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 9
