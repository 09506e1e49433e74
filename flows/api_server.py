"""`python -m flows.api_server --port N [--no-ui] [--no-services]`: Prefect's server (API and UI),
as `prefect server start` serves it, behind a strict Host check.

Prefect's server answers whatever Host a request names; a web page that rebinds its own name to
127.0.0.1 would then be same-origin with the API. Only the loopback names, with this server's
port or none, pass; anything else gets 403 before Prefect sees it. The rest of the lock
(authentication, CSRF, CORS) is Prefect's own, set through the environment (flows.lockdown).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from pipeline.review import hostname_of

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
Scope = dict[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]


def host_allowed(header: str, *, port: int) -> bool:
    name = hostname_of(header)
    if name not in LOOPBACK:
        return False
    tail = header.rsplit("]", 1)[-1] if header.startswith("[") else header
    return ":" not in tail or tail.rsplit(":", 1)[1] == str(port)


class HostGuard:
    """ASGI middleware: a request (HTTP or websocket) whose Host is not this server's is refused."""

    def __init__(self, app: App, *, port: int) -> None:
        self.app, self.port = app, port

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            if not host_allowed(headers.get(b"host", b"").decode("latin-1"), port=self.port):
                await _refuse(scope, send)
                return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: Any) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = b"unknown Host: use the address diptych printed\n"
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.api_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--no-services", action="store_true", help="the API only, no background services")
    args = parser.parse_args()

    import uvicorn
    from prefect.server.api.server import create_app
    from prefect.settings import PREFECT_SERVER_API_KEEPALIVE_TIMEOUT

    app = create_app(final=True, webserver_only=args.no_services)
    uvicorn.run(HostGuard(app, port=args.port), host=args.host, port=args.port, log_level=args.log_level,
                timeout_keep_alive=PREFECT_SERVER_API_KEEPALIVE_TIMEOUT.value(), lifespan="on")


if __name__ == "__main__":
    main()
