"""The access log keeps no client address and no query string (reset tokens travel in one)."""

from __future__ import annotations

import logging

from app.core.logs import AccessLogScrubber, install_log_scrubbers


def test_access_log_lines_lose_the_address_and_the_query():
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:51234", "GET", "/reset-password?token=secret-token-value", "1.1", 200), None,
    )
    assert AccessLogScrubber().filter(record)
    line = record.getMessage()
    assert "203.0.113.7" not in line and "secret-token-value" not in line
    assert '"GET /reset-password HTTP/1.1" 200' in line


def test_the_app_installs_the_scrubber_once(app):
    install_log_scrubbers()
    scrubbers = [f for f in logging.getLogger("uvicorn.access").filters if isinstance(f, AccessLogScrubber)]
    assert len(scrubbers) == 1


def test_favicon_points_at_our_own_icon(client):
    response = client.get("/favicon.ico", follow_redirects=False)
    assert response.status_code == 301 and response.headers["location"] == "/static/dist/favicon.svg"
