"""Logging without personal data or secrets."""

from __future__ import annotations

import logging


class AccessLogScrubber(logging.Filter):
    """uvicorn's access log would record the client address (personal data) and query strings
    (which can carry one-time tokens); keep the method, path and status only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            _client, method, path, version, status = record.args
            record.args = ("-", method, str(path).split("?", 1)[0], version, status)
        return True


def install_log_scrubbers() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogScrubber) for f in access.filters):
        access.addFilter(AccessLogScrubber())
