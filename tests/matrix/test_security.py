"""Security: the key never leaks, credentials never travel in clear, URLs are what they say,
commands never go through a shell unasked, and the simulator stays on this machine.

The key under test is a distinctive string; a server that echoes it back (in a 401's body and
headers) plays the worst case. Every place a key could surface is searched for it: reprs and
strings of every object, every log record of livebar, httpx, httpcore and uvicorn at DEBUG,
exception text, tracebacks formatted *with their locals* (what Sentry, rich and
``pytest --showlocals`` record), the CLI's output and the simulator's page and answers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

import livebar
from livebar import Action, Client, ConfigurationError, LivebarError, ValidationError
from livebar._wire.payload import PushNotification
from livebar.simulator import SimulatorConfig, serve

from .support import Listener, capture_logs, run_child

KEY = "ask_leak_canary_7f3a9c"
LOGGERS = ("livebar", "httpx", "httpcore", "uvicorn", "uvicorn.error", "asyncio")


@pytest.fixture
def echoing() -> Iterator[Any]:
    """A simulator that knows KEY and, asked with any other key, echoes KEY back in its 401."""
    with serve(config=SimulatorConfig(keys={KEY: None})) as sim:
        yield sim


def _traceback_text(exc: BaseException) -> str:
    """The exception as a traceback formatted with every frame's locals."""
    formatted = traceback.TracebackException(
        type(exc), exc, exc.__traceback__, capture_locals=True
    ).format()
    return "".join(formatted)


def _raised(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except BaseException as exc:  # the test inspects whatever it was
        return exc
    raise AssertionError("nothing was raised")


# -- reprs, strings, logs, exceptions -----------------------------------------------------------


def test_no_object_shows_the_key_in_its_repr_or_str(echoing: Any) -> None:
    """Client, AsyncClient, Config, activities, their spec and stats, the simulator handle."""
    client = Client(api_key=KEY, base_url=echoing.url)
    aclient = livebar.AsyncClient(api_key=KEY, base_url=echoing.url)
    act = livebar.live_activity("Job", api_key=KEY, base_url=echoing.url)
    objects = [client, aclient, client.config, act, act.spec, act.stats, echoing]
    try:
        for obj in objects:
            assert KEY not in repr(obj), type(obj)
            assert KEY not in str(obj), type(obj)
    finally:
        client.close()


@pytest.mark.parametrize("lifecycle", ["stream", "manual"])
def test_no_log_record_at_any_level_holds_the_key(echoing: Any, lifecycle: str) -> None:
    """A job, a refused key whose 401 echoes it, a push: nothing logged anywhere shows it."""
    echoing.state.answer_next(
        1,
        status=401,
        body={"error": "Unauthorized", "message": f"bad key {KEY}", "key": KEY},
        headers={"X-Echo": KEY},
    )
    with capture_logs(*LOGGERS) as logs:
        with livebar.live_activity(
            "Refused", lifecycle=lifecycle, api_key=KEY, base_url=echoing.url
        ) as act:
            act.update(1)
        livebar.flush(5.0)
        other = "ask_other_canary_55"
        with livebar.live_activity(
            "Works", total=2, lifecycle=lifecycle, api_key=other, base_url=echoing.url
        ) as act:
            act.update(2)
        livebar.push("Pushed", api_key=KEY, base_url=echoing.url)
        livebar.flush(5.0)
    text = logs.text()
    assert "refused the API key" in text  # the 401 was logged, and seen here
    assert KEY not in text
    assert any(r.name.startswith("httpx") for r in logs.records)  # httpx did log, at DEBUG


@pytest.mark.parametrize("flavour", ["Client", "AsyncClient"])
def test_an_error_from_a_key_echoing_server_never_shows_it(echoing: Any, flavour: str) -> None:
    """str, repr, .body, and the traceback with every frame's locals."""
    echoing.state.answer_next(
        1,
        status=401,
        body={"error": "Unauthorized", "message": f"bad key {KEY}", KEY: [KEY]},
        headers={"X-Echo": KEY},
    )
    notification = PushNotification(title="x")

    def call() -> Any:
        if flavour == "Client":
            with Client(api_key=KEY, base_url=echoing.url, retry=False) as client:
                return client.push(notification)

        async def run() -> Any:
            async with livebar.AsyncClient(api_key=KEY, base_url=echoing.url, retry=False) as c:
                return await c.push(notification)

        import asyncio

        return asyncio.run(run())

    exc = _raised(call)
    assert isinstance(exc, livebar.AuthenticationError)
    for text in (str(exc), repr(exc), json.dumps(exc.body), _traceback_text(exc)):
        assert KEY not in text


@pytest.mark.parametrize(
    "call",
    [
        lambda: Client(api_key=KEY, base_url="http://example.com/api"),
        lambda: livebar.AsyncClient(api_key=KEY, base_url="ftp://example.com"),
        lambda: livebar.live_activity("Job", api_key=KEY, color="pink"),
        lambda: livebar.LiveActivity("Job", api_key=KEY, total=-1),
        lambda: livebar.live_activity("Job", api_key=KEY, base_url="http://10.0.0.1/api"),
        lambda: livebar.track(range(3), title="Loop", api_key=KEY, steps=0),
        lambda: livebar.push("", api_key=KEY),
        lambda: Client(api_key=KEY, base_url="http://127.0.0.1:9/api").push("not a push"),
        lambda: Client(api_key=KEY, base_url="http://127.0.0.1:9/api").push(
            PushNotification(title="x"), retry=False
        ),
    ],
    ids=[
        "Client: http:// elsewhere",
        "AsyncClient: ftp://",
        "live_activity: bad colour",
        "LiveActivity: negative total",
        "live_activity: http:// elsewhere",
        "track: steps=0",
        "push: empty title",
        "Client.push: not a PushNotification",
        "Client.push: nothing listening",
    ],
)
def test_a_refusal_with_the_key_given_keeps_it_out_of_the_traceback_locals(
    call: Callable[[], Any],
) -> None:
    """A LivebarError raised at a call that was given the key: no frame's locals show it."""
    exc = _raised(call)
    assert isinstance(exc, LivebarError)
    text = _traceback_text(exc)
    assert KEY not in text, text


def test_the_cli_never_prints_the_key(echoing: Any) -> None:
    """``livebar push`` against a server echoing the key in its 401: one line, no key."""
    echoing.state.answer_next(
        1, status=401, body={"error": "Unauthorized", "message": f"bad key {KEY}"}
    )
    env = {
        **os.environ,
        "ACTIVITYSMITH_API_KEY": KEY,
        "ACTIVITYSMITH_BASE_URL": echoing.url,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "livebar", "push", "--title", "Hi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert 1 == proc.returncode, proc.stderr
    assert "401" in proc.stderr
    assert KEY not in proc.stdout + proc.stderr


def test_the_simulator_page_and_answers_never_show_its_key(echoing: Any) -> None:
    """The lock-screen page, its files and every /_sim answer, after requests with the key."""
    with Client(api_key=KEY, base_url=echoing.url) as client:
        client.push(PushNotification(title="seen"))
    with httpx.Client(base_url=echoing.root_url) as web:
        pages = ["/", "/static/app.js", "/static/style.css"]
        pages += [f"/_sim/{name}" for name in ("state", "requests", "activities", "pushes")]
        pages += ["/_sim/faults", "/_sim/phone", "/_sim/badges", "/_sim/metrics"]
        for page in pages:
            answer = web.get(page)
            assert 200 == answer.status_code, page
            assert KEY not in answer.text, page


# -- transport ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/api",
        "http://10.0.0.1/api",
        "http://0.0.0.0:8080/api",
        "http://127.0.0.1.nip.io/api",
        "http://localhost.example.com/api",
        "ftp://127.0.0.1/api",
        "file:///etc/passwd",
        "https://user:pass@activitysmith.com/api?x=1",
    ],
)
def test_a_base_url_that_is_not_https_or_loopback_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As an argument (at the call) and from the environment (one line; nothing sent)."""
    with pytest.raises(ConfigurationError, match="base_url"):
        Client(api_key=KEY, base_url=url)
    with pytest.raises(ValidationError) as caught:
        livebar.live_activity("Job", api_key=KEY, base_url=url)
    assert "base_url" == caught.value.field
    monkeypatch.setenv("ACTIVITYSMITH_BASE_URL", url)
    monkeypatch.setenv("ACTIVITYSMITH_API_KEY", KEY)
    child = run_child(
        "import livebar\nwith livebar.live_activity('Job') as act:\n    pass\n"
        "say(enabled=act.enabled)\n",
        env={"ACTIVITYSMITH_BASE_URL": url, "ACTIVITYSMITH_API_KEY": KEY},
    )
    assert 0 == child.returncode
    assert child.last("enabled") is False
    [line] = child.stderr.strip().splitlines()
    assert "ACTIVITYSMITH_BASE_URL" in line or "base_url" in line
    assert KEY not in child.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"])
def test_no_proxy_ever_sees_a_request_to_a_plain_http_or_loopback_server(
    variable: str, host: str
) -> None:
    """A proxy from the environment (a socket this test listens on) receives nothing; the
    simulator gets every request: the key never travels through a proxy in clear."""
    proxy = Listener()
    try:
        with serve(config=SimulatorConfig(keys={KEY: None})) as sim:
            url = sim.url.replace("127.0.0.1", host)
            child = run_child(
                "import livebar\n"
                "with livebar.live_activity('Proxied', total=1) as act:\n"
                "    act.update(1)\n"
                "say(delivered=livebar.flush(5))\n"
                "from livebar import Client\n"
                "from livebar._wire.payload import PushNotification\n"
                "with Client() as c:\n"
                "    c.push(PushNotification(title='direct'))\n",
                env={
                    variable: proxy.url,
                    "ACTIVITYSMITH_API_KEY": KEY,
                    "ACTIVITYSMITH_BASE_URL": url,
                },
            )
            assert 0 == child.returncode, child.stderr
            assert child.last("delivered") is True
            assert 3 == len(sim.requests())
    finally:
        proxy.close()
    assert 0 == proxy.connections
    assert b"" == bytes(proxy.received)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: Any) -> Iterator[str]:
    """An https server on 127.0.0.1 with a self-signed certificate (trusted by nothing)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()
    handshakes: list[str] = []

    def serve_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (socket.timeout, OSError):
                continue
            with conn, contextlib.suppress(OSError, ssl.SSLError):
                conn.settimeout(1.0)
                with context.wrap_socket(conn, server_side=True) as tls:
                    handshakes.append("completed")
                    tls.recv(65536)
                    tls.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{"success":true}')

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.getsockname()[1]}/api"
    stop.set()
    thread.join(5.0)
    server.close()
    assert [] == handshakes  # no client ever accepted the untrusted certificate


@pytest.mark.parametrize(
    "environment",
    [{}, {"PYTHONHTTPSVERIFY": "0"}, {"SSL_CERT_FILE": "/dev/null"}, {"CURL_CA_BUNDLE": ""}],
    ids=["plain", "PYTHONHTTPSVERIFY=0", "SSL_CERT_FILE=/dev/null", "CURL_CA_BUNDLE empty"],
)
def test_tls_verification_cannot_be_silently_switched_off(
    tls_server: str, environment: dict[str, str]
) -> None:
    """An untrusted certificate is refused, whatever the environment says; nothing is sent."""
    child = run_child(
        "from livebar import Client, ConnectError\n"
        "from livebar._wire.payload import PushNotification\n"
        "try:\n"
        "    with Client(retry=False) as c:\n"
        "        c.push(PushNotification(title='x'))\n"
        "    say(result='sent')\n"
        "except ConnectError as exc:\n"
        "    say(result='refused', text=str(exc))\n",
        env={"ACTIVITYSMITH_API_KEY": KEY, "ACTIVITYSMITH_BASE_URL": tls_server, **environment},
    )
    assert 0 == child.returncode, child.stderr
    assert "refused" == child.last("result")
    assert "CERTIFICATE_VERIFY_FAILED" in child.last("text")
    assert KEY not in child.last("text")


def test_no_option_or_setting_turns_tls_verification_off() -> None:
    """The client's only ways in are its documented options; none of them is ``verify``."""
    import inspect

    for cls in (Client, livebar.AsyncClient):
        assert "verify" not in inspect.signature(cls).parameters
    with pytest.raises(ValidationError):
        livebar.live_activity("Job", verify=False)  # type: ignore[call-arg]


# -- URLs ---------------------------------------------------------------------------------------

URLS = [
    ("open_url", "https://example.com/run/1", True),
    ("open_url", "shortcuts://run-shortcut?name=Deploy", True),
    ("open_url", "http://example.com", False),
    ("open_url", "javascript:alert(1)", False),
    ("open_url", "file:///etc/passwd", False),
    ("open_url", "data:text/html,<script>", False),
    ("open_url", "//example.com/no-scheme", False),
    ("webhook", "https://example.com/hook", True),
    ("webhook", "shortcuts://run", False),
    ("webhook", "http://example.com/hook", False),
    ("media", "https://example.com/a.png", True),
    ("media", "http://example.com/a.png", False),
    ("media", "file:///etc/passwd", False),
    ("media", "javascript:alert(1)", False),
    ("redirection", "https://example.com", True),
    ("redirection", "shortcuts://run", True),
    ("redirection", "javascript:alert(1)", False),
    ("redirection", "ftp://example.com", False),
]


@pytest.mark.parametrize(
    ("where", "url", "accepted"),
    URLS,
    ids=[f"{w} {u} -> {'accepted' if a else 'refused'}" for w, u, a in URLS],
)
def test_urls_in_actions_media_and_redirections_are_checked(
    where: str, url: str, accepted: bool
) -> None:
    """Only https (and shortcuts:// where the API takes it); nothing a browser would run."""

    def build() -> Any:
        if where == "open_url":
            return Action.open_url("Open", url)
        if where == "webhook":
            return Action.webhook("Hook", url)
        return PushNotification(title="x", **{where: url})

    if accepted:
        build()
    else:
        with pytest.raises(ValidationError):
            build()


# -- commands and the simulator -----------------------------------------------------------------


@pytest.mark.parametrize("shell", [False, True], ids=["without --shell", "with --shell"])
def test_livebar_run_uses_a_shell_only_when_asked(shell: bool, tmp_path: Path) -> None:
    """Without --shell, `$(...)`, `;` and `$VAR` reach the program as text; with it, the
    shell expands them."""
    marker = tmp_path / "pwned"
    command = ["printf", "%s", f"$(touch {marker}); $HOME"]
    argv = [sys.executable, "-m", "livebar", "run"]
    if shell:
        argv += ["--shell", "--", f'printf %s "$(touch {marker}); $HOME"']
    else:
        argv += ["--", *command]
    env = {**os.environ, "LIVEBAR_DISABLE": "1", "HOME": "/home/matrix"}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert 0 == proc.returncode, proc.stderr
    if shell:
        assert marker.exists()
        assert "; /home/matrix" == proc.stdout
    else:
        assert not marker.exists()
        assert f"$(touch {marker}); $HOME" == proc.stdout


def test_the_simulator_listens_on_loopback_only_and_requires_its_keys() -> None:
    """serve() binds 127.0.0.1 (the machine's other addresses refuse); the API answers 401
    without a key or with a wrong one; livebar simulate's default host is loopback too."""
    import inspect

    from livebar.simulator import _server

    assert "127.0.0.1" == inspect.signature(serve).parameters["host"].default
    assert "127.0.0.1" == inspect.signature(_server.SimulatorServer).parameters["host"].default
    with serve() as sim:
        port = int(sim.url.rsplit(":", 1)[1].split("/", 1)[0])
        others = {
            info[4][0]
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
            if not info[4][0].startswith("127.")
        }
        for address in others:
            with socket.socket() as probe:
                probe.settimeout(1.0)
                assert 0 != probe.connect_ex((address, port)), address
        with httpx.Client(base_url=sim.url) as api:
            body = {"title": "x"}
            assert 401 == api.post("/push-notification", json=body).status_code
            wrong = {"Authorization": "Bearer ask_wrong"}
            assert 401 == api.post("/push-notification", json=body, headers=wrong).status_code
            right = {"Authorization": f"Bearer {sim.api_key}"}
            assert 200 == api.post("/push-notification", json=body, headers=right).status_code
    help_text = subprocess.run(
        [sys.executable, "-m", "livebar", "simulate", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "127.0.0.1" in help_text


def test_logging_is_left_as_it_was() -> None:
    """livebar adds no handler and changes no level on the loggers it uses."""
    before = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in LOGGERS
    }
    with livebar.live_activity("Quiet", disable=True):
        pass
    after = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in LOGGERS
    }
    assert before == after


@pytest.mark.parametrize(
    "url", ["https://ops:hunter2@activitysmith.com/api", "http://:hunter2@127.0.0.1:9/api"]
)
def test_a_base_url_with_credentials_is_refused_without_showing_them(url: str) -> None:
    """``user:password@`` in the base URL is refused, naming ``base_url``; the password is in
    no message, repr or log line (it was printed by ``repr(Client)`` and httpx's INFO line)."""
    with capture_logs("livebar", "httpx") as logs:
        with pytest.raises(livebar.ConfigurationError) as caught:
            livebar.Client(api_key="ask_x", base_url=url)
        with pytest.raises(livebar.ValidationError) as refused:
            livebar.live_activity("Job", base_url=url)
    assert ("base_url", "base_url") == (caught.value.option, refused.value.field)
    shown = [str(caught.value), repr(caught.value), str(refused.value), logs.text()]
    assert not any("hunter2" in text for text in shown)
