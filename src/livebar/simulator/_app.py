"""The simulator's ASGI app: a thin starlette shell around ``SimulatorState``.

Routes::

    /api/...            the ActivitySmith API (bearer key, limits, faults)
    /                   the lock-screen page; /static/<file> its script and style sheet
    /_sim/state         everything the page draws (GET)
    /_sim/requests      the request log (GET)
    /_sim/activities    activities with their histories and what the phone displayed when (GET)
    /_sim/pushes        push notifications received (GET)
    /_sim/badges        each device's app-icon badge count (GET)
    /_sim/metrics       the latest value of each widget metric (GET)
    /_sim/phone         what the lock screen shows now (GET)
    /_sim/faults        GET the faults; POST {"fail_next", "status", "retry_after", "delay",
                        "drop_next", "down", "drip", "slow_next"} to change them; DELETE to
                        clear them
    /_sim/down, /_sim/up, /_sim/reset   (POST)
    /_sim/billing       POST {"blocked": "trial_expired" | "trial_exhausted" |
                        "billing_overage_cap_reached" | null}: a billing block (402) or none

``/_sim/…`` needs no key, never fails on purpose and does not count against any limit. It is
for this machine's tests and for the page, never for other web sites open in the same browser:

- the page, its files and ``/_sim/…`` answer only when the ``Host`` is ``localhost`` or an IP
  address (a DNS-rebinding site has a name of its own);
- ``/_sim/…`` refuses requests whose ``Sec-Fetch-Site`` says another site sent them, or whose
  ``Origin`` is not the simulator's own (403);
- a ``POST`` to ``/_sim/…`` must say ``Content-Type: application/json`` (415 otherwise): a page
  elsewhere can only send that after a CORS preflight, which the simulator never approves.

The API key is never part of the page or of any ``/_sim/…`` answer.

A dropped request closes its connection without a byte of answer (``drop_connection``, supplied
by ``SimulatorServer``); an app mounted elsewhere without it answers a dropped request 502 with an
empty body instead.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator, Awaitable, MutableMapping
from pathlib import Path
from typing import Any, Callable

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from livebar._wire.errors import ConfigurationError, ValidationError
from livebar.simulator._answers import Reply
from livebar.simulator._faults import Exchange, RawAnswer, Step, exchange
from livebar.simulator._state import SimulatorState

Scope = MutableMapping[str, Any]
DropConnection = Callable[[Scope], Awaitable[bool]]
"""Closes the connection a request arrived on without answering; False if it could not."""

STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
INITIAL_STATE_MARK = "__INITIAL_STATE__"
API_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
NO_STORE = {"Cache-Control": "no-store"}
TRUSTED_FETCH_SITES = ("same-origin", "none")
"""``Sec-Fetch-Site`` values of requests the page (or a tool, or a typed URL) makes."""
FAULT_FIELDS: dict[str, Any] = {
    "fail_next": int,
    "status": int,
    "retry_after": (int, float),
    "delay": (int, float),
    "drop_next": int,
    "down": bool,
    "drip": (int, float),
    "slow_next": int,
}
JSON_TYPE = "application/json"


def create_app(
    state: SimulatorState, *, drop_connection: DropConnection | None = None
) -> Starlette:
    """The ASGI app serving ``state``; ``drop_connection`` implements dropped requests."""
    return Starlette(routes=_Endpoints(state, drop_connection).routes())


class _Endpoints:
    """The app's endpoints over one ``SimulatorState``."""

    def __init__(self, state: SimulatorState, drop_connection: DropConnection | None) -> None:
        self.state = state
        self.drop_connection = drop_connection

    async def api(self, request: Request) -> Response:
        """An API request: the exchange its faults plan (``_faults.exchange``), performed."""
        path = "/" + request.path_params["path"]
        body = await request.body()
        decision = self.state.take_fault()
        # A served app cannot refuse a connection it accepted, nor knows the client's timeout.
        plan = exchange(decision)
        reply = None
        for step in plan.steps:
            if step is Step.WAIT:
                await anyio.sleep(plan.wait)
            elif step is Step.RECORD:
                self.state.record_fault(request.method, path, body, decision)
            elif step is Step.HANDLE:
                key = request.headers.get("authorization")
                reply = self.state.handle(
                    request.method, path, authorization=key, body=body, fault=decision
                )
            elif step is Step.DROP:
                if self.drop_connection is not None and await self.drop_connection(request.scope):
                    return Response(status_code=503)  # the connection is gone; nobody reads this
                return Response(status_code=502)
            else:
                return _answered(plan, reply)
        raise AssertionError(f"a served exchange ends in an answer or a drop: {plan}")

    async def page(self, request: Request) -> Response:
        refused = _foreign_host(request)
        if refused is not None:
            return refused
        html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        initial = json.dumps(self.state.snapshot()).replace("<", "\\u003c")
        return Response(
            html.replace(INITIAL_STATE_MARK, initial), media_type="text/html", headers=NO_STORE
        )

    async def static(self, request: Request) -> Response:
        refused = _foreign_host(request)
        if refused is not None:
            return refused
        name = request.path_params["name"]
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            return JSONResponse({"error": "Not Found", "message": name}, status_code=404)
        return Response((STATIC_DIR / name).read_bytes(), media_type=media_type, headers=NO_STORE)

    def inspect(self, read: Callable[[], Any]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            refused = _cross_site(request)
            if refused is not None:
                return refused
            return JSONResponse(read(), headers=NO_STORE)

        return endpoint

    async def faults(self, request: Request) -> Response:
        refused = _cross_site(request)
        if refused is not None:
            return refused
        if request.method == "GET":
            return JSONResponse(self.state.faults.to_json())
        if request.method == "DELETE":
            return JSONResponse(self.state.clear_faults())
        try:
            changes = _fault_changes(await request.body())
            return JSONResponse(self.state.set_faults(**changes))
        except ValidationError as exc:
            return JSONResponse(
                {"error": "Bad Request", "message": str(exc), "field": exc.field}, status_code=400
            )

    def control(self, action: Callable[[], object]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            refused = _cross_site(request)
            if refused is not None:
                return refused
            action()
            return JSONResponse({"success": True, "faults": self.state.faults.to_json()})

        return endpoint

    async def billing(self, request: Request) -> Response:
        refused = _cross_site(request)
        if refused is not None:
            return refused
        try:
            data = _json_object(await request.body())
            blocked = data.get("blocked")
            if set(data) - {"blocked"} or not (blocked is None or isinstance(blocked, str)):
                raise ValidationError("blocked", "type", "must be a billing block reason or null")
            self.state.set_billing(blocked)
        except (ValidationError, ConfigurationError) as exc:
            return JSONResponse(
                {"error": "Bad Request", "message": str(exc), "field": "blocked"}, status_code=400
            )
        return JSONResponse({"success": True, "billing_blocked": blocked})

    def routes(self) -> list[Route]:
        """The app's routes (see the module docstring)."""
        state = self.state
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/static/{name}", self.static, methods=["GET"]),
            Route("/api/{path:path}", self.api, methods=API_METHODS),
            Route("/_sim/state", self.inspect(state.snapshot), methods=["GET"]),
            Route("/_sim/requests", self.inspect(state.requests), methods=["GET"]),
            Route("/_sim/activities", self.inspect(state.activities), methods=["GET"]),
            Route("/_sim/pushes", self.inspect(state.pushes), methods=["GET"]),
            Route("/_sim/badges", self.inspect(state.badges), methods=["GET"]),
            Route("/_sim/metrics", self.inspect(state.metrics), methods=["GET"]),
            Route("/_sim/phone", self.inspect(state.phone), methods=["GET"]),
            Route("/_sim/faults", self.faults, methods=["GET", "POST", "DELETE"]),
            Route(
                "/_sim/down", self.control(lambda: state.set_faults(down=True)), methods=["POST"]
            ),
            Route("/_sim/up", self.control(lambda: state.set_faults(down=False)), methods=["POST"]),
            Route("/_sim/reset", self.control(state.reset), methods=["POST"]),
            Route("/_sim/billing", self.billing, methods=["POST"]),
        ]


def _answered(plan: Exchange, reply: Reply | None) -> Response:
    """The answer ``plan`` gives: the fault's (a reply, or raw bytes) or else the account's
    ``reply``; dripped byte by byte when the plan says so."""
    answer = plan.answer if plan.answer is not None else reply
    if isinstance(answer, RawAnswer):
        status, content, headers = answer.status, answer.body, dict(answer.headers)
    else:
        assert answer is not None
        status, content, headers = _encoded(answer)
    if plan.drip > 0:
        return StreamingResponse(_dripping(content, plan.drip), status_code=status, headers=headers)
    return Response(content, status_code=status, headers=headers)


def _encoded(reply: Reply) -> tuple[int, bytes, dict[str, str]]:
    """A JSON reply as the bytes sent (the same encoding ``JSONResponse`` uses)."""
    content = json.dumps(
        reply.body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")
    return reply.status, content, {"Content-Type": JSON_TYPE, **dict(reply.headers)}


async def _dripping(content: bytes, seconds: float) -> AsyncIterator[bytes]:
    """``content`` one byte at a time, spread over ``seconds`` (a slow drip)."""
    pause = seconds / max(len(content), 1)
    for i in range(len(content)):
        await anyio.sleep(pause)
        yield content[i : i + 1]


def _foreign_host(request: Request) -> Response | None:
    """403 unless the request names this machine: ``localhost`` or an IP address."""
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost") or _is_ip(name):
        return None
    return _refusal(403, "the simulator answers only for localhost or an IP address")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _cross_site(request: Request) -> Response | None:
    """Why a request to ``/_sim/…`` is refused (another site sent it), or None."""
    refused = _foreign_host(request)
    if refused is not None:
        return refused
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in TRUSTED_FETCH_SITES:
        return _refusal(403, "cross-site requests to /_sim are refused")
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host')}":
        return _refusal(403, "requests to /_sim from another origin are refused")
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != JSON_TYPE:
            return _refusal(415, "POST to /_sim needs Content-Type: application/json")
    return None


def _refusal(status: int, message: str) -> Response:
    error = "Forbidden" if status == 403 else "Unsupported Media Type"
    return JSONResponse({"error": error, "message": message}, status_code=status)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ValidationError("", "type", "the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ValidationError("", "type", "the body must be a JSON object")
    return data


def _fault_changes(body: bytes) -> dict[str, Any]:
    data = _json_object(body)
    for name, value in data.items():
        expected = FAULT_FIELDS.get(name)
        if expected is None:
            raise ValidationError(name, "additionalProperties", "is not a fault setting")
        if value is None and name == "retry_after":
            continue
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise ValidationError(name, "type", "has the wrong type")
    return data
