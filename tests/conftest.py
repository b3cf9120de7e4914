"""Shared fixtures: the ActivitySmith OpenAPI spec as a request validator, and anyio backends.

Every request a test sends through ``mock_transport(handler)`` is checked against the published
spec (operation, path parameters, request body) before the handler sees it; a request the real
API would refuse fails the test. The spec is read from ``$LIVEBAR_OPENAPI_SPEC`` or
``<repo>/../shared/activitysmith/openapi.json``; a missing spec fails the tests that need it.
"""

from __future__ import annotations

import functools
import json
import os
import re
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
SPEC_URI = "urn:activitysmith:openapi"

Handler = Callable[[httpx.Request], Union[httpx.Response, Awaitable[httpx.Response]]]


def spec_path() -> Path:
    """Where the OpenAPI spec is read from."""
    configured = os.environ.get(SPEC_ENV)
    if configured:
        return Path(configured)
    return REPO.parent / "shared" / "activitysmith" / "openapi.json"


@functools.cache
def _load_spec() -> dict[str, Any]:
    path = spec_path()
    if not path.is_file():
        pytest.fail(
            f"ActivitySmith OpenAPI spec not found at {path}: set {SPEC_ENV} to its path",
            pytrace=False,
        )
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return spec


class SpecValidator:
    """Checks requests and bodies against the spec's operations and component schemas."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
        )
        self._validators: dict[str, Draft202012Validator] = {}
        self._operations: list[tuple[re.Pattern[str], str, str]] = []
        for template, item in spec["paths"].items():
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]*)", re.escape(template))
            escaped = template.replace("~", "~0").replace("/", "~1")
            for method, operation in item.items():
                if isinstance(operation, dict) and "responses" in operation:
                    compiled = re.compile(f"(?:/.*)?{pattern}")
                    self._operations.append(
                        (compiled, method.upper(), f"/paths/{escaped}/{method}")
                    )

    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator for the schema at JSON pointer ``pointer`` in the spec."""
        if pointer not in self._validators:
            schema = {"$ref": f"{SPEC_URI}#{pointer}"}
            self._validators[pointer] = Draft202012Validator(schema, registry=self.registry)
        return self._validators[pointer]

    def component(self, name: str) -> Draft202012Validator:
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
        errors = self._errors(f"{pointer}/requestBody/content/application~1json/schema", body)
        assert [] == errors, f"{method} {path} body {body!r}"


@functools.cache
def _validator() -> SpecValidator:
    return SpecValidator(_load_spec())


def spec_validating_transport(handler: Handler) -> httpx.MockTransport:
    """A ``MockTransport`` that validates each request against the spec, then calls ``handler``.

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
    ``(status, json_body)`` pair. Every request is validated against the spec first, then kept
    in ``requests`` (and its JSON body, or ``None``, in ``bodies``).
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
    """The ``FakeAPI`` class: ``fake_api((200, {...}))`` scripts a spec-checked server."""
    return FakeAPI


@pytest.fixture(scope="session")
def openapi_spec() -> dict[str, Any]:
    """The parsed ActivitySmith OpenAPI spec."""
    return _load_spec()


@pytest.fixture(scope="session")
def spec_validator() -> SpecValidator:
    """A ``SpecValidator`` over the ActivitySmith spec."""
    return _validator()


@pytest.fixture
def mock_transport() -> Callable[[Handler], httpx.MockTransport]:
    """Factory: ``mock_transport(handler)`` is a spec-validating ``httpx.MockTransport``."""
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
    livebar.configure(budgets=livebar.Budgets())


@pytest.fixture
def sim(spec_validator: SpecValidator) -> Iterator[Any]:
    """A fresh simulator at ActivitySmith's limits on 127.0.0.1.

    After the test, every request that reached it (from livebar in this process or from a
    subprocess) must validate against the spec. Simulator tests that send malformed requests on
    purpose define their own ``sim``.
    """
    import livebar
    from livebar.simulator import serve

    with serve() as handle:
        yield handle
        livebar.flush(5.0)
        for request in handle.requests():
            spec_validator.validate_body(request["method"], request["path"], request["body"])
