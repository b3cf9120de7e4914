"""Shared fixtures: every request a test sends is checked, and anyio backends.

Every request a test sends through ``mock_transport(handler)`` (or ``FakeAPI``), and every request
that reaches the ``sim`` fixture's simulator, is checked before the test passes: a request the real
API would refuse fails the test. What checks it depends on what this machine has:

- ActivitySmith's published OpenAPI spec, read from ``$LIVEBAR_OPENAPI_SPEC`` or
  ``<repo>/../shared/activitysmith/openapi.json``: operation, path parameters and body are validated
  against it (``OpenAPIValidator``). This is the independent check; CI requires it
  (``LIVEBAR_REQUIRE_SPEC=1`` makes a missing spec fail the run).
- Without the spec (a fresh clone anywhere else), livebar's own model of the API: the operations
  its client sends, bodies parsed by the payload classes' ``from_json``, path parameters by
  livebar's key validators, answers read the way the client reads them (``ModelValidator``). Every
  test still runs; the header and the summary say which check was in force.

The spec itself is ActivitySmith's document and never lives in this repository.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import typing
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, Callable, Union

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[1]
SPEC_ENV = "LIVEBAR_OPENAPI_SPEC"
REQUIRE_SPEC_ENV = "LIVEBAR_REQUIRE_SPEC"
SPEC_URI = "urn:activitysmith:openapi"
JSON_SCHEMA = "content/application~1json/schema"

Handler = Callable[[httpx.Request], Union[httpx.Response, Awaitable[httpx.Response]]]


# -- where the spec is ------------------------------------------------------------------------


def default_spec_path() -> Path:
    """Where the spec is looked for when ``$LIVEBAR_OPENAPI_SPEC`` is not set."""
    return REPO.parent / "shared" / "activitysmith" / "openapi.json"


def find_spec() -> Path | None:
    """The spec file in force, or None (then livebar's payload model checks requests).

    A ``$LIVEBAR_OPENAPI_SPEC`` naming a missing file is an error, not a quiet fallback.
    """
    configured = os.environ.get(SPEC_ENV, "").strip()
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise pytest.UsageError(f"{SPEC_ENV}={configured}: no such file")
        return path
    path = default_spec_path()
    return path if path.is_file() else None


def spec_status() -> str:
    """The one line the header and the summary show."""
    path = find_spec()
    found = f"yes ({path})" if path is not None else f"no (set {SPEC_ENV})"
    return f"requests checked against the ActivitySmith spec: {found}"


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run without the spec when ``LIVEBAR_REQUIRE_SPEC=1`` (CI); keep the shared
    ledger of this run (and of every process it starts) in a directory of its own; send no
    courier from the processes the tests start (the cells that test it ask for one)."""
    os.environ.setdefault("LIVEBAR_COURIER", "0")
    if "LIVEBAR_LEDGER" not in os.environ:
        import tempfile

        os.environ["LIVEBAR_LEDGER"] = tempfile.mkdtemp(prefix="livebar-ledger-")
    required = os.environ.get(REQUIRE_SPEC_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    if required and find_spec() is None:
        raise pytest.UsageError(
            f"{REQUIRE_SPEC_ENV}=1 but the ActivitySmith spec is not at {default_spec_path()}: "
            f"set {SPEC_ENV} to the path of its openapi.json"
        )


def pytest_report_header(config: pytest.Config) -> str:
    """Say at the top which check requests go through."""
    return spec_status()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """And again at the bottom, where people look."""
    terminalreporter.write_line(spec_status())


# -- the two validators -----------------------------------------------------------------------


class SchemaCheck(typing.Protocol):
    """What a schema validator offers: the two methods of a jsonschema validator tests use."""

    def is_valid(self, instance: object) -> bool: ...

    def iter_errors(self, instance: object) -> Iterator[Any]: ...


class SpecValidator:
    """Checks requests, bodies and answers against a description of the API's operations.

    ``spec`` is an OpenAPI document (``paths`` → method → operation); ``validator(pointer)``
    checks an instance against the schema at a JSON pointer into it. ``OpenAPIValidator`` reads
    ActivitySmith's spec; ``ModelValidator`` describes the same operations with livebar's model.
    """

    spec: dict[str, Any]
    source: str

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._operations: list[tuple[re.Pattern[str], str, str]] = []
        for template, item in spec["paths"].items():
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]*)", re.escape(template))
            for method, operation in item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    compiled = re.compile(f"(?:/.*)?{pattern}")
                    pointer = f"/paths/{_escape(template)}/{method}"
                    self._operations.append((compiled, method.upper(), pointer))

    def validator(self, pointer: str) -> SchemaCheck:
        """A validator for the schema at JSON pointer ``pointer`` in the spec."""
        raise NotImplementedError

    def component(self, name: str) -> SchemaCheck:
        """A validator for ``#/components/schemas/<name>``."""
        return self.validator(f"/components/schemas/{name}")

    def assert_valid(self, name: str, instance: object) -> None:
        """Fail with every error if ``instance`` does not validate against component ``name``."""
        assert [] == self._errors(f"/components/schemas/{name}", instance)

    def is_valid(self, name: str, instance: object) -> bool:
        """Whether ``instance`` validates against component ``name``."""
        return bool(self.component(name).is_valid(instance))

    def operation(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        """The spec pointer of the operation ``method path`` and its path parameters."""
        for pattern, op_method, pointer in self._operations:
            match = pattern.fullmatch(path)
            if match and op_method == method:
                return pointer, match.groupdict()
        pytest.fail(f"{method} {path} is not an operation of the ActivitySmith API")

    def _resolve(self, pointer: str) -> Any:
        node: Any = self.spec
        for part in pointer.strip("/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def _errors(self, pointer: str, instance: object) -> list[str]:
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in self.validator(pointer).iter_errors(instance)
        ]

    def validate_request(self, request: httpx.Request) -> None:
        """Fail unless ``request`` is one the spec documents, with valid parameters and body."""
        pointer, params = self.operation(request.method, request.url.path)
        operation = self._resolve(pointer)
        for i, parameter in enumerate(operation.get("parameters", [])):
            if parameter["in"] == "path":
                value = params[parameter["name"]]
                errors = self._errors(f"{pointer}/parameters/{i}/schema", value)
                assert [] == errors, f"path parameter {parameter['name']}={value!r}"
        assert request.headers.get("authorization", "").startswith("Bearer ")
        assert request.headers.get("user-agent", "").startswith("livebar/")
        content = request.read()
        if content:
            assert request.headers.get("content-type") == "application/json"
        self.validate_body(
            request.method, request.url.path, json.loads(content) if content else None
        )

    def validate_body(self, method: str, path: str, body: object) -> None:
        """Fail unless ``body`` (None: no body) is valid for the operation ``method path``."""
        pointer, _ = self.operation(method, path)
        request_body = self._resolve(pointer).get("requestBody")
        if body is None:
            assert not (request_body or {}).get("required"), "the request needs a JSON body"
            return
        assert request_body is not None, "this operation takes no body"
        errors = self._errors(f"{pointer}/requestBody/{JSON_SCHEMA}", body)
        assert [] == errors, f"{method} {path} body {body!r}"


class OpenAPIValidator(SpecValidator):
    """ActivitySmith's published spec, through jsonschema (draft 2020-12)."""

    def __init__(self, spec: dict[str, Any], *, source: str) -> None:
        super().__init__(spec)
        self.source = source
        self.registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
        )
        self._validators: dict[str, Draft202012Validator] = {}

    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator for the schema at JSON pointer ``pointer`` in the spec."""
        if pointer not in self._validators:
            schema = {"$ref": f"{SPEC_URI}#{pointer}"}
            self._validators[pointer] = Draft202012Validator(schema, registry=self.registry)
        return self._validators[pointer]


@dataclasses.dataclass(frozen=True)
class ModelError:
    """One refusal, shaped like a jsonschema error (``message``, ``absolute_path``)."""

    message: str
    absolute_path: tuple[str, ...] = ()


class ModelCheck:
    """A ``SchemaCheck`` made of a function that returns the refusals of an instance."""

    def __init__(self, errors: Callable[[object], list[ModelError]]) -> None:
        self._errors = errors

    def is_valid(self, instance: object) -> bool:
        """Whether the model accepts ``instance``."""
        return not self._errors(instance)

    def iter_errors(self, instance: object) -> Iterator[ModelError]:
        """Every refusal of ``instance``."""
        return iter(self._errors(instance))


SPEC_COMPONENTS = {
    "PushNotification": "PushNotificationRequest",
    "StartActivity": "LiveActivityStartRequest",
    "UpdateActivity": "LiveActivityUpdateRequest",
    "EndActivity": "LiveActivityEndRequest",
    "StreamUpdate": "LiveActivityStreamRequest",
    "StreamEnd": "LiveActivityStreamDeleteRequest",
    "BadgeCount": "AppIconBadgeCountUpdateRequest",
    "MetricValue": "MetricValueUpdateRequest",
}
"""The spec's component name of each request body class (so tests can use either)."""
MODEL_ERROR_STATUSES = (400, 401, 402, 403, 404, 422, 429)
"""Error answers livebar's error model reads as something specific (anything else: ServerError)."""


def published_operations() -> list[Any]:
    """The rows of livebar's operations table that the published spec has (``Endpoint``s)."""
    from livebar._wire.operations import OPERATIONS

    return [endpoint for endpoint in OPERATIONS.values() if not endpoint.newer]


class ModelValidator(SpecValidator):
    """livebar's own model of the API, for machines without the spec.

    The operations are the rows of livebar's operations table the published spec has: bodies
    go through each row's body class's ``from_json``, path parameters through the table's
    ``PATH_PARAMETERS``, and answers must carry what the row's result class and
    ``error_from_response`` read, with the types they read.
    Weaker than the spec where livebar's model and the spec could disagree, which is why CI
    requires the spec.
    """

    source = "livebar's payload model"

    def __init__(self) -> None:
        self._checks: dict[str, ModelCheck] = {}
        super().__init__(self._describe())

    def validator(self, pointer: str) -> ModelCheck:
        """The model's check for the schema at ``pointer`` (of ``spec``)."""
        check = self._checks.get(pointer)
        if check is None:
            pytest.fail(f"livebar's payload model has no check for {pointer}")
        return check

    def _describe(self) -> dict[str, Any]:
        from livebar._wire.operations import PATH_PARAMETERS

        paths: dict[str, dict[str, Any]] = {}
        for endpoint in published_operations():
            component = f"/components/schemas/{SPEC_COMPONENTS[endpoint.body.__name__]}"
            self._checks[component] = ModelCheck(_parses(endpoint.body.from_json))
            pointer = f"/paths/{_escape(endpoint.path)}/{endpoint.method.lower()}"
            self._checks[f"{pointer}/requestBody/{JSON_SCHEMA}"] = self._checks[component]
            for i, name in enumerate(endpoint.parameters):
                self._checks[f"{pointer}/parameters/{i}/schema"] = ModelCheck(
                    _parses(PATH_PARAMETERS[name])
                )
            responses: dict[str, Any] = {}
            for status in (200, *MODEL_ERROR_STATUSES):
                responses[str(status)] = {"content": {"application/json": {"schema": {}}}}
                check = (
                    _result_errors(endpoint.result)
                    if status == 200
                    else _error_errors(endpoint.name, status)
                )
                self._checks[f"{pointer}/responses/{status}/{JSON_SCHEMA}"] = ModelCheck(check)
            paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = {
                "operationId": str(endpoint.name),
                "parameters": [
                    {"name": name, "in": "path", "required": True} for name in endpoint.parameters
                ],
                "requestBody": {
                    "required": endpoint.body_required,
                    "content": {"application/json": {"schema": {"$ref": f"#{component}"}}},
                },
                "responses": responses,
            }
        schemas = {name: {} for name in SPEC_COMPONENTS.values()}
        return {"paths": paths, "components": {"schemas": schemas}}


def _escape(template: str) -> str:
    return template.replace("~", "~0").replace("/", "~1")


def _parses(parse: Callable[[Any], object]) -> Callable[[object], list[ModelError]]:
    """Refusals of a livebar parser: its ``ValidationError``, naming the field."""
    from livebar._wire.errors import ValidationError

    def errors(instance: object) -> list[ModelError]:
        try:
            parse(instance)
        except ValidationError as exc:
            path = tuple(part for part in re.split(r"[.\[\]]+", exc.field) if part)
            return [ModelError(str(exc), path)]
        return []

    return errors


def _result_errors(result: type[Any]) -> Callable[[object], list[ModelError]]:
    """A 200 answer must hold each field of the client's result class with the type it reads."""
    fields = [f for f in dataclasses.fields(result) if f.name != "raw"]

    def errors(body: object) -> list[ModelError]:
        if not isinstance(body, dict):
            return [ModelError("the answer is not a JSON object")]
        found = []
        for field in fields:
            if field.name not in body:
                if field.default is dataclasses.MISSING:
                    found.append(ModelError(f"{field.name!r} is a required property"))
                continue
            if not _has_type(body[field.name], str(field.type)):
                message = f"{body[field.name]!r} is not {field.type}"
                found.append(ModelError(message, (field.name,)))
        return found

    return errors


JSON_TYPES: dict[str, Callable[[object], bool]] = {
    "None": lambda value: value is None,
    "bool": lambda value: isinstance(value, bool),
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "str": lambda value: isinstance(value, str),
    "tuple[str, ...]": lambda value: (
        isinstance(value, list) and all(isinstance(item, str) for item in value)
    ),
}
"""How a JSON value must look for each annotation the result classes use (as written)."""


def _has_type(value: object, annotation: str) -> bool:
    """Whether a JSON value is what a result field annotated ``annotation`` reads."""
    return any(JSON_TYPES[arm.strip()](value) for arm in annotation.split("|"))


def _error_errors(operation: str, status: int) -> Callable[[object], list[ModelError]]:
    """An error answer must say ``error`` (a string) and map to livebar's error for ``status``."""
    from livebar._wire.errors import ActivityLimitError, ServerError, error_from_response

    def errors(body: object) -> list[ModelError]:
        if not isinstance(body, dict):
            return [ModelError("the answer is not a JSON object")]
        found = []
        for name in ("error", "message"):
            if name in body and not isinstance(body[name], str):
                found.append(ModelError(f"{body[name]!r} is not a string", (name,)))
        if not isinstance(body.get("error"), str):
            found.append(ModelError("'error' is a required property"))
        mapped = error_from_response(status, body, {}, operation=operation)
        if isinstance(mapped, ServerError):
            found.append(ModelError(f"livebar cannot read a {status} answer to {operation}"))
        if isinstance(mapped, ActivityLimitError):
            for name in ("limit", "active"):
                if not _has_type(body.get(name), "int"):
                    found.append(ModelError(f"{name!r} is not an integer", (name,)))
        return found

    return errors


@functools.cache
def _validator() -> SpecValidator:
    path = find_spec()
    if path is None:
        return ModelValidator()
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return OpenAPIValidator(spec, source=str(path))


# -- transports and fixtures ------------------------------------------------------------------


def spec_validating_transport(handler: Handler) -> httpx.MockTransport:
    """A ``MockTransport`` that validates each request, then calls ``handler``.

    ``handler`` may be sync or async (for ``httpx.AsyncClient``).
    """
    validator = _validator()

    def validating(request: httpx.Request) -> Any:
        validator.validate_request(request)
        return handler(request)

    return httpx.MockTransport(validating)


class FakeAPI:
    """A scripted ActivitySmith: answers with ``replies`` in turn (the last one repeats).

    A reply is an ``httpx.Response``, an exception to raise (e.g. ``httpx.ConnectError``), or a
    ``(status, json_body)`` pair. Every request is validated first, then kept in ``requests``
    (and its JSON body, or ``None``, in ``bodies``).
    """

    def __init__(self, *replies: httpx.Response | Exception | tuple[int, Any]) -> None:
        assert replies, "give at least one reply"
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []
        self.bodies: list[Any] = []
        self.transport = spec_validating_transport(self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        content = request.read()
        self.bodies.append(json.loads(content) if content else None)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, tuple):
            status, body = reply
            return httpx.Response(status, json=body)
        return reply


@pytest.fixture
def fake_api() -> type[FakeAPI]:
    """The ``FakeAPI`` class: ``fake_api((200, {...}))`` scripts a checked server."""
    return FakeAPI


@pytest.fixture(scope="session")
def openapi_spec() -> dict[str, Any]:
    """The API's operations: ActivitySmith's spec, or livebar's model of it without the spec."""
    return _validator().spec


@pytest.fixture(scope="session")
def spec_validator() -> SpecValidator:
    """The validator in force: ``OpenAPIValidator`` with the spec, else ``ModelValidator``."""
    return _validator()


@pytest.fixture(scope="session")
def model_validator() -> ModelValidator:
    """livebar's model of the API, whether or not the spec is present."""
    return ModelValidator()


@pytest.fixture
def mock_transport() -> Callable[[Handler], httpx.MockTransport]:
    """Factory: ``mock_transport(handler)`` is a validating ``httpx.MockTransport``."""
    return spec_validating_transport


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on asyncio and on trio."""
    backend: str = request.param
    return backend


@pytest.fixture(autouse=True)
def default_pacing() -> Iterator[None]:
    """Each test starts from livebar's default budgets, whatever the previous one configured."""
    import livebar

    yield
    livebar.configure(requests_per_minute=40)  # the default share, as budgets_for makes it


@pytest.fixture
def env(sim: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of a livebar subprocess pointed at the ``sim`` simulator: no livebar or
    tqdm setting of the caller's, a ledger of the test's own (simulators reuse ports, and one
    key on one port is one account: a ledger shared across tests would hand a later test the
    cards an earlier one left, to reap or mark), and no courier outliving the test."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEBAR_", "TQDM_"))}
    environ.update(ACTIVITYSMITH_API_KEY=sim.api_key, ACTIVITYSMITH_BASE_URL=sim.url)
    environ.update(LIVEBAR_LEDGER=str(tmp_path / "ledger"), LIVEBAR_COURIER="0")
    return environ


@pytest.fixture
def sim(spec_validator: SpecValidator) -> Iterator[Any]:
    """A fresh simulator at ActivitySmith's limits on 127.0.0.1.

    After the test, every request that reached it (from livebar in this process or from a
    subprocess) must validate. Simulator tests that send malformed requests on purpose define
    their own ``sim``.
    """
    import livebar
    from livebar.simulator import serve

    with serve() as handle:
        yield handle
        livebar.flush(5.0)
        for request in handle.requests():
            spec_validator.validate_body(request["method"], request["path"], request["body"])
