"""Configuration resolution: argument > environment > default."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from livebar._defaults import DEFAULT_BASE_URL, DEFAULT_TIMEOUT
from livebar._wire.config import Config, redact, resolve_config
from livebar._wire.errors import ConfigurationError

KEY = "ask_secret_1234567890"


def test_defaults_without_environment() -> None:
    """With nothing set, the defaults apply and there is no key."""
    assert Config(api_key=None, base_url=DEFAULT_BASE_URL, timeout=DEFAULT_TIMEOUT) == (
        resolve_config(environ={})
    )


def test_environment_beats_default() -> None:
    """Environment variables override the defaults."""
    env = {
        "ACTIVITYSMITH_API_KEY": KEY,
        "ACTIVITYSMITH_BASE_URL": "https://example.test/api/",
        "LIVEBAR_TIMEOUT": "2.5",
        "LIVEBAR_DISABLE": "yes",
    }
    expected = Config(api_key=KEY, base_url="https://example.test/api", timeout=2.5, disabled=True)
    assert expected == resolve_config(environ=env)


def test_argument_beats_environment() -> None:
    """Explicit arguments override the environment."""
    env = {
        "ACTIVITYSMITH_API_KEY": "ask_env",
        "ACTIVITYSMITH_BASE_URL": "https://env.test",
        "LIVEBAR_TIMEOUT": "9",
        "LIVEBAR_DISABLE": "1",
    }
    config = resolve_config(
        api_key=KEY, base_url="https://arg.test", timeout=1, disable=False, environ=env
    )
    assert Config(api_key=KEY, base_url="https://arg.test", timeout=1.0) == config


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without environ=, os.environ is read."""
    monkeypatch.setenv("ACTIVITYSMITH_API_KEY", KEY)
    assert KEY == resolve_config().api_key


def test_blank_key_counts_as_missing() -> None:
    """An empty or blank key is no key."""
    assert resolve_config(environ={"ACTIVITYSMITH_API_KEY": "  "}).api_key is None


def test_key_is_stripped() -> None:
    """Surrounding whitespace (say, from a file) is removed from the key."""
    assert KEY == resolve_config(api_key=f" {KEY}\n", environ={}).api_key


@pytest.mark.parametrize("bad", ["ask with space", "ask_\u00e9", "ask_\x00"])
def test_unusable_key_refused_without_echo(bad: str) -> None:
    """A key that cannot go in a header is refused without echoing it."""
    with pytest.raises(ConfigurationError) as info:
        resolve_config(api_key=bad, environ={})
    assert "api_key" == info.value.option
    assert bad not in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://activitysmith.com/api/", "https://activitysmith.com/api"),
        ("https://activitysmith.com/api///", "https://activitysmith.com/api"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.4.5.6:1/", "http://127.4.5.6:1"),
        ("http://localhost:8000/api", "http://localhost:8000/api"),
        ("http://LOCALHOST", "http://LOCALHOST"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
    ],
)
def test_base_url_accepted(url: str, expected: str) -> None:
    """HTTPS anywhere and HTTP on loopback are accepted, trailing slashes dropped."""
    assert expected == resolve_config(base_url=url, environ={}).base_url


@pytest.mark.parametrize(
    "url",
    [
        "http://activitysmith.com/api",
        "http://10.0.0.1",
        "http://localhost.evil.test",
        "ftp://activitysmith.com",
        "activitysmith.com/api",
        "https://",
        "https://example.test/api?x=1",
        "http://[::2]/",
    ],
)
def test_base_url_refused(url: str) -> None:
    """Non-HTTPS remote, non-HTTP and malformed base URLs are refused naming base_url."""
    with pytest.raises(ConfigurationError) as info:
        resolve_config(base_url=url, environ={})
    assert "base_url" == info.value.option


def test_env_base_url_refused_too() -> None:
    """The HTTPS rule applies to the environment variable as well."""
    with pytest.raises(ConfigurationError, match="base_url"):
        resolve_config(environ={"ACTIVITYSMITH_BASE_URL": "http://example.test"})


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), True, "5"])
def test_bad_timeout_refused(timeout: object) -> None:
    """A timeout must be a finite positive number (never infinite)."""
    with pytest.raises(ConfigurationError) as info:
        resolve_config(timeout=timeout, environ={})  # type: ignore[arg-type]
    assert "timeout" == info.value.option


@pytest.mark.parametrize("text", ["abc", "0", "-2", "inf"])
def test_bad_env_timeout_names_variable(text: str) -> None:
    """A bad LIVEBAR_TIMEOUT names the variable."""
    with pytest.raises(ConfigurationError) as info:
        resolve_config(environ={"LIVEBAR_TIMEOUT": text})
    assert "LIVEBAR_TIMEOUT" == info.value.option


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("TRUE", True), ("on", True), ("0", False), ("no", False), ("", False)],
)
def test_disable_flag(text: str, expected: bool) -> None:
    """LIVEBAR_DISABLE understands the usual yes/no words."""
    assert expected == resolve_config(environ={"LIVEBAR_DISABLE": text}).disabled


def test_bad_disable_flag_refused() -> None:
    """An unknown LIVEBAR_DISABLE word is an error naming the variable."""
    with pytest.raises(ConfigurationError, match="LIVEBAR_DISABLE"):
        resolve_config(environ={"LIVEBAR_DISABLE": "maybe"})


def test_repr_redacts_key(caplog: pytest.LogCaptureFixture) -> None:
    """The key never shows in repr, str or a log line of the config."""
    config = resolve_config(api_key=KEY, environ={})
    logging.getLogger("livebar").warning("config %s %r", config, config)
    assert KEY not in repr(config)
    assert KEY not in str(config)
    assert KEY not in caplog.text
    assert "api_key='***'" in repr(config)


def test_redact() -> None:
    """redact() hides every occurrence of the key and leaves other text alone."""
    assert "token *** and *** again" == redact(f"token {KEY} and {KEY} again", KEY)
    assert "nothing" == redact("nothing", None)


def engine_settings(
    *,
    flush_timeout: float | None = None,
    requests_per_minute: int | None = None,
    environ: dict[str, str],
) -> tuple[float, int]:
    from livebar._wire.config import flush_timeout_setting, requests_per_minute_setting

    return (
        flush_timeout_setting(flush_timeout, environ=environ),
        requests_per_minute_setting(requests_per_minute, environ=environ),
    )


def test_engine_settings_resolve_argument_then_environment_then_default() -> None:
    """Flush deadline and request share: argument > LIVEBAR_* variable > default."""
    assert (5.0, 40) == engine_settings(environ={})
    env = {"LIVEBAR_FLUSH_TIMEOUT": "2.5", "LIVEBAR_REQUESTS_PER_MINUTE": "20"}
    assert (2.5, 20) == engine_settings(environ=env)
    assert (1.0, 10) == engine_settings(flush_timeout=1.0, requests_per_minute=10, environ=env)


@pytest.mark.parametrize(
    ("kwargs", "env", "option"),
    [
        ({}, {"LIVEBAR_REQUESTS_PER_MINUTE": "61"}, "LIVEBAR_REQUESTS_PER_MINUTE"),
        ({}, {"LIVEBAR_REQUESTS_PER_MINUTE": "lots"}, "LIVEBAR_REQUESTS_PER_MINUTE"),
        ({}, {"LIVEBAR_FLUSH_TIMEOUT": "soon"}, "LIVEBAR_FLUSH_TIMEOUT"),
        ({"requests_per_minute": 0}, {}, "requests_per_minute"),
        ({"flush_timeout": -1.0}, {}, "flush_timeout"),
    ],
)
def test_bad_engine_settings_name_the_setting(
    kwargs: dict[str, Any], env: dict[str, str], option: str
) -> None:
    """A bad value raises ConfigurationError naming the argument or variable."""
    with pytest.raises(ConfigurationError) as caught:
        engine_settings(environ=env, **kwargs)
    assert option == caught.value.option
