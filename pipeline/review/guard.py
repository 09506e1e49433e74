"""The review server's outer wall: Host check, body size limit, security headers (plain ASGI)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

TOKEN_HEADER = "X-Diptych-Token"
MAX_BODY_BYTES = 2 * 1024 * 1024
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; "
        b"img-src 'self' data:; media-src 'self'; connect-src 'self'; form-action 'self'; "
        b"base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def loopback_hosts() -> set[str]:
    return {"127.0.0.1", "localhost", "::1"}


# RFC 9110 Host: a name or IPv4 address, or an IPv6 address in brackets, then ":port" at most.
HOST_HEADER = re.compile(
    r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?"
)


def hostname_of(header: str) -> str | None:
    """The host a Host header names, lower-case and without brackets; None unless the whole header
    is a host and an optional port (`localhost:8781@evil.com`, `a b`, `host:` are not)."""
    match = HOST_HEADER.fullmatch(header)
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    return match["name"].strip("[]").lower()


async def _refuse(send: Send, status: int, text: str) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


class Guard:
    """ASGI middleware: unknown Host headers (DNS rebinding) and bodies over the limit are refused;
    every response gets a strict Content-Security-Policy."""

    def __init__(
        self, app: Callable[..., Awaitable[None]], *, allowed_hosts: set[str], max_body: int
    ) -> None:
        self.app, self.allowed_hosts, self.max_body = app, allowed_hosts, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if hostname_of(headers.get("host", "")) not in self.allowed_hosts:
            await _refuse(send, 400, "unknown Host: open the review page at the address diptych printed")
            return
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.max_body:
            await _refuse(send, 413, f"request body over {self.max_body // (1024 * 1024)} MB refused")
            return
        if scope["method"] not in ("GET", "HEAD"):
            body = bytearray()
            while True:  # chunked bodies have no length: count while reading
                message = await receive()
                body += message.get("body", b"")
                if len(body) > self.max_body:
                    await _refuse(send, 413, f"request body over {self.max_body // (1024 * 1024)} MB refused")
                    return
                if not message.get("more_body", False):
                    break
            receive = _replay(bytes(body), receive)

        async def send_secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_secured)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
