"""Which operation an API request names, read from the wire's operations table, and the
answers for requests the simulated account cannot read (no such route, a bad body or path key).
"""

from __future__ import annotations

import json
from typing import Any

from livebar._wire.errors import ValidationError
from livebar._wire.operations import OPERATIONS, PATH_PARAMETERS, Endpoint
from livebar.simulator._answers import Reply

PATH_KEY_ERRORS = {
    "stream_key": "Invalid stream_key",
    "key": "Invalid metric key",
    "notification_id": "Invalid notification_id",
}
"""The server's ``error`` for a bad value of each path parameter."""


def route(
    method: str, path: str, *, strict: bool
) -> Reply | tuple[Endpoint[Any, Any], dict[str, str]]:
    """The endpoint ``method path`` names, with its raw path parameters, or the answer instead:
    405 for a path the API has with another method, 404 for any other. Operations only newer
    servers know do not exist for a strict simulator."""
    path = path.rstrip("/") or "/"
    known = False
    for endpoint in OPERATIONS.values():
        if strict and endpoint.newer:
            continue
        parameters = endpoint.match(path)
        if parameters is None:
            continue
        if endpoint.method == method:
            return endpoint, parameters
        known = True
    if known:
        return Reply(
            405, {"error": "Method Not Allowed", "message": f"{method} is not allowed on {path}"}
        )
    return Reply(404, {"error": "Not Found", "message": f"No route for {method} {path}"})


def check_parameters(parameters: dict[str, str]) -> None:
    """Check each path parameter (``ValidationError`` naming it)."""
    for name, value in parameters.items():
        PATH_PARAMETERS[name](value)


def parse_body(body: bytes, *, optional: bool = False) -> Any:
    """The JSON object a request carries (``None`` for no body, where it is ``optional``)."""
    if not body.strip():
        if optional:
            return None
        raise ValidationError("", "type", "the request body must be a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError("", "type", "the request body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ValidationError("", "type", "the request body must be a JSON object")
    return data


def bad_request(exc: ValidationError, *, path_key: bool = False, metric: bool = False) -> Reply:
    """The 400 for a refused body or path key, worded as the server words each."""
    if path_key:
        error = PATH_KEY_ERRORS[exc.field]
    elif exc.field.split(".", 1)[0].split("[", 1)[0] in ("target", "channels"):
        error = "Invalid channel targeting"
        return Reply(
            400, {"error": error, "message": f"{exc.field} {exc.detail}", "field": exc.field}
        )
    elif metric and exc.field == "value":
        reason = "must be a finite number" if exc.rule == "type" else exc.detail
        return Reply(400, {"error": f"value {reason}", "field": exc.field})
    else:
        error = "Bad Request"
    return Reply(400, {"error": error, "message": str(exc), "field": exc.field})
