"""Pure ASGI middleware: security headers, body limits, CSRF and a last line against errors."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import weakref
from urllib.parse import parse_qs

from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.i18n import N_
from app.core.security import csrf_token_for, csrf_token_valid

logger = logging.getLogger("marketplace.errors")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def _exempt_from_csrf(path: str) -> bool:
    # The JSON API authenticates with bearer tokens only, never with a cookie, so it needs no token.
    return path.startswith(("/api/", "/static/")) or path in ("/healthz", "/readyz")


async def _send_simple(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_error(scope: Scope, receive: Receive, send: Send, status: int, heading: str, body: str) -> None:
    if scope["path"].startswith("/api/"):
        payload = json.dumps({"detail": f"{heading}. {body}"}).encode()
        await _send_simple(send, status, payload, "application/json")
        return
    from app.core.errors import error_fragment, error_page, is_htmx

    request = Request(scope, receive)
    if is_htmx(request):
        response = error_fragment(request, status, heading, [])
    else:
        response = error_page(request, status, heading, body)
    await response(scope, receive, send)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        script_sources = ["'self'"]
        if settings.htmx_url:
            from urllib.parse import urlsplit

            parts = urlsplit(settings.htmx_url)
            script_sources.append(f"{parts.scheme}://{parts.netloc}")
        self.csp = "; ".join(
            [
                "default-src 'self'",
                f"script-src {' '.join(script_sources)}",
                "style-src 'self'",
                "img-src 'self' data:",
                "font-src 'self'",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ]
        )
        self.production = settings.is_production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = self.csp
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if self.production:
                    headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
                if is_static:
                    headers.setdefault("Cache-Control", "public, max-age=3600")
                else:
                    # Dynamic pages may show personal data: no shared or browser cache may keep them.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuse request bodies above the limit before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not (declared.isascii() and declared.isdigit()) or int(declared) > self.max_bytes):
            await _send_error(scope, receive, send, 413, N_("That was too much to send"), N_("Shorten what you sent and try again"))
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _send_error(scope, receive, send, 413, N_("That was too much to send"), N_("Shorten what you sent and try again"))


class NulCharacterMiddleware:
    """Refuse text PostgreSQL cannot store, the same on both databases (SQLite would take it):
    the NUL character anywhere in an address or a body, and a lone UTF-16 surrogate (`\\ud800`,
    which is valid JSON but no real character). No one types either, and one safety net here
    covers every field of every form and API body, including fields added later.

    A JSON body gets the API's usual 422 naming the field; an address or a form gets the plain
    "problem with that request" page (a browser never sends these from a text box).
    """

    ADDRESS_PATTERNS = (b"\x00", b"%00")
    UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or any(p in scope.get("query_string", b"") for p in self.ADDRESS_PATTERNS):
            await _send_bad_request(scope, receive, send)
            return
        if scope["method"] not in self.UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        content_type = Headers(scope=scope).get("content-type", "")
        if not content_type.startswith(("application/json", "application/x-www-form-urlencoded")):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if content_type.startswith("application/json"):
            field = unstorable_json_field(body)
            if field is not None:
                from app.core.errors import FieldError, api_errors

                message = N_("Remove the unusual invisible characters and try again")
                await api_errors([FieldError(field, message)])(scope, _replay(body, receive), send)
                return
        elif any(p in body for p in self.ADDRESS_PATTERNS):
            await _send_bad_request(scope, _replay(body, receive), send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _send_bad_request(scope: Scope, receive: Receive, send: Send) -> None:
    await _send_error(scope, receive, send, 400, N_("Sorry, there is a problem with that request"), N_("Go back and try again."))


def unstorable_json_field(body: bytes) -> str | None:
    """The dotted path of the first JSON string (key or value) holding text no database column
    can store, or None. A body that is not JSON is left for the endpoint's own 422."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None

    def storable(text: str) -> bool:
        if "\x00" in text:
            return False
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    pending: list[tuple[tuple[str, ...], object]] = [((), document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and not storable(value):
            return ".".join(path) or "body"
        if isinstance(value, dict):
            for key, item in value.items():
                if not storable(key):
                    return ".".join(path) or "body"
                pending.append(((*path, key), item))
        elif isinstance(value, list):
            pending.extend(((*path, str(index)), item) for index, item in enumerate(value))
    return None


class _BodyTooLarge(HTTPException):
    # An HTTPException, so FastAPI's own body parsing lets it through as a 413 instead of a 400.
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="That was too much to send. Shorten what you sent and try again")


class CSRFMiddleware:
    """Signed double-submit CSRF tokens for every cookie-authenticated unsafe request.

    The random value lives in an HttpOnly cookie; forms and htmx send HMAC(secret, value),
    which only this server can compute. Without a valid token: 403 and the handler never runs.
    """

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.secret = settings.secret_bytes
        self.cookie_name = settings.csrf_cookie_name
        self.secure = settings.is_production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt_from_csrf(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cookie_value = request.cookies.get(self.cookie_name)
        new_cookie = None
        if not cookie_value or len(cookie_value) < 32 or len(cookie_value) > 128:
            cookie_value = new_cookie = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = csrf_token_for(self.secret, cookie_value)

        if scope["method"] not in SAFE_METHODS:
            body = await _read_body(receive)
            submitted = request.headers.get(CSRF_HEADER) or await _form_token(scope, body)
            if new_cookie is not None or not csrf_token_valid(self.secret, cookie_value, submitted):
                await _send_error(
                    scope,
                    receive,
                    send,
                    403,
                    N_("Your form has expired"),
                    N_("Nothing has been changed. Go back, refresh the page and try again."),
                )
                return
            receive = _replay(body, receive)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and new_cookie is not None:
                cookie = f"{self.cookie_name}={new_cookie}; Path=/; HttpOnly; SameSite=Lax"
                if self.secure:
                    cookie += "; Secure"
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _form_token(scope: Scope, body: bytes) -> str | None:
    content_type = Headers(scope=scope).get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("utf-8", errors="replace")).get(CSRF_FIELD)
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):
        form_request = Request(scope, _replay(body, _no_more_body))
        try:
            form = await form_request.form()
        except Exception:  # a malformed multipart body simply carries no token
            return None
        value = form.get(CSRF_FIELD)
        await form.close()
        return value if isinstance(value, str) else None
    return None


async def _no_more_body() -> Message:
    return {"type": "http.disconnect"}


class BusyMiddleware:
    """Admission control: at most `threads` requests inside the app at once, `queue` more waiting
    their turn here (costing no thread), and beyond that a 503 with Retry-After at once.

    A request holds its database connection from its first query to its end, across several
    worker-thread hops (its dependencies, then the route). Were more requests inside than there
    are connections, those holding one could wait for a thread that others hold while they wait
    for a connection: every request stuck until the pool timeout. Admitting no more requests
    than connections (and threads) means each admitted request always finds both.
    """

    EXEMPT = ("/static/", "/healthz", "/readyz")

    def __init__(self, app: ASGIApp, *, threads: int, queue: int):
        self.app = app
        self.threads = threads
        self.limit = threads + queue
        self.in_flight = 0  # admitted or waiting
        # One semaphore per event loop (a semaphore belongs to the loop it first waited in).
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.EXEMPT):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _send_busy(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.threads)
        self.in_flight += 1
        try:
            async with slots:
                await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _send_busy(scope: Scope, receive: Receive, send: Send) -> None:
    async def with_retry_after(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            message["headers"] = list(message["headers"]) + [(b"retry-after", b"2")]
        await send(message)

    await _send_error(
        scope, receive, with_retry_after, 503,
        N_("Sorry, the service is busy"), N_("Please try again in a moment. Nothing you sent has been saved."),
    )


# PostgreSQL's "try again" errors: a serialization failure and a deadlock. The transaction was
# rolled back whole, so running the request again is safe.
RETRYABLE_SQLSTATES = ("40001", "40P01")


def _sqlstate(exc: BaseException) -> str | None:
    return getattr(getattr(exc, "orig", None), "sqlstate", None)


class DatabaseTroubleMiddleware:
    """What a request meets when the database cannot serve it: never a 500.

    - A serialization failure or deadlock (PostgreSQL 40001, 40P01): the request is run again
      from the start, up to `retries` times, with a short random pause; then a 503.
    - A lost or refused connection (the server restarting, a killed backend) or a locked SQLite
      file: a 503 with `Retry-After` at once. Nothing was committed: the transaction is gone whole.

    Only before the answer has started; the body is kept (it is small: the size limit runs first)
    so a retry sends the handler the same request.
    """

    def __init__(self, app: ASGIApp, retries: int = 3):
        self.app = app
        self.retries = retries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from sqlalchemy.exc import DBAPIError

        body, more = b"", True
        messages: list[Message] = []
        while more:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)

        for attempt in range(self.retries + 1):
            started = False
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    if messages and messages[0]["type"] != "http.request":
                        return messages[0]
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            async def tracking_send(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                await send(message)

            try:
                await self.app(scope, replay, tracking_send)
                return
            except DBAPIError as exc:
                if started:
                    raise
                state = _sqlstate(exc)
                if state in RETRYABLE_SQLSTATES and attempt < self.retries:
                    logger.info("retrying %s after sqlstate %s (attempt %s)", scope.get("method"), state, attempt + 1)
                    await asyncio.sleep(0.01 * (2**attempt) + secrets.randbelow(20) / 1000)
                    continue
                if state in RETRYABLE_SQLSTATES or exc.connection_invalidated or _database_unreachable(exc):
                    logger.warning("database unavailable (%s) on %s", state or type(exc.orig).__name__, scope.get("method"))
                    await _send_unavailable(scope, receive, send)
                    return
                raise


def _database_unreachable(exc: BaseException) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    original = getattr(exc, "orig", exc)
    state = _sqlstate(exc)
    if type(original).__module__.startswith("psycopg"):
        # The server went away mid-request (no SQLSTATE: the connection itself failed), or it
        # refused us: class 08 (connection exception), 57P01-57P03 (shutting down, cannot connect now).
        return state is None or state.startswith(("08", "57P"))
    # SQLite: another writer held the file past the busy timeout.
    text = str(original).lower()
    return "database is locked" in text or "database is busy" in text


async def _send_unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    async def with_retry_after(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = list(message["headers"]) + [(b"retry-after", b"5")]
        await send(message)

    await _send_error(
        scope, receive, with_retry_after, 503,
        N_("Sorry, the service is busy"), N_("Please try again in a moment. Nothing you sent has been saved."),
    )  # fmt: skip


class UnexpectedErrorMiddleware:
    """Turn any unhandled error into a friendly 500, logging its type and route but never its message."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except PoolTimeout:
            # Every connection stayed busy for the whole pool timeout: busy, not broken.
            logger.warning("no database connection free on %s", scope.get("method"))
            if not started:
                await _send_busy(scope, receive, send)
        except Exception as exc:
            route = scope.get("route")
            logger.error(
                "unexpected error %s on %s %s",
                type(exc).__name__,
                scope.get("method"),
                getattr(route, "path", "an unmatched route"),
            )
            if started:
                return  # too late for an error page; the client sees a cut-off response
            await _send_error(
                scope,
                receive,
                send,
                500,
                N_("Sorry, there is a problem with the service"),
                N_("Please try again later. What you sent has not been saved."),
            )
