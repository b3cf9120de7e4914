"""The account is the key plus the server, however they were spelled or supplied."""

from __future__ import annotations

import pytest

from livebar import Client
from livebar._wire.account import account_for, account_of, canonical_server
from livebar._wire.errors import ConfigurationError

KEY = "ask_test_0123456789"


@pytest.mark.parametrize(
    "spelling",
    [
        "https://activitysmith.com/api",
        "https://activitysmith.com/api/",
        "HTTPS://ActivitySmith.COM/api",
        "https://activitysmith.com:443/api",
        "https://activitysmith.com//api//",
        "  https://activitysmith.com/api  ",
    ],
)
def test_spellings_of_one_server_are_one_account(spelling: str) -> None:
    """Scheme and host case, the default port and trailing slashes do not make a new account."""
    assert account_for(api_key=KEY, base_url="https://activitysmith.com/api") == account_for(
        api_key=KEY, base_url=spelling
    )


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://127.0.0.1:80/api/", "http://localhost/api"),
        ("http://LOCALHOST:8080", "http://localhost:8080"),
        ("http://127.0.0.2:8080", "http://localhost:8080"),
        ("https://[::1]:443/x/", "https://localhost/x"),
        ("https://user:pw@example.com/api", "https://example.com/api"),
    ],
)
def test_canonical_server(url: str, canonical: str) -> None:
    """Default ports and user info go, every loopback address is ``localhost`` (127.0.0.1 and
    localhost were two accounts: 8 activities where the limit is 4), other ports and the path
    (case kept) stay."""
    assert canonical == canonical_server(url)


@pytest.mark.parametrize(
    ("other_key", "other_url"),
    [
        ("ask_other", "https://activitysmith.com/api"),
        (KEY, "https://activitysmith.com:8443/api"),
        (KEY, "https://activitysmith.com/API"),
        (KEY, "http://activitysmith.com/api"),
        (KEY, "https://staging.activitysmith.com/api"),
    ],
)
def test_another_key_or_server_is_another_account(other_key: str, other_url: str) -> None:
    """A different key, port, path, scheme or host is a different budget."""
    one = account_for(api_key=KEY, base_url="https://activitysmith.com/api")
    assert one.id != account_for(api_key=other_key, base_url=other_url).id


def test_the_key_is_never_in_the_account() -> None:
    """Neither the id, the repr nor the str contain the key or a plain hash of it."""
    import hashlib

    account = account_for(api_key=KEY, base_url="https://activitysmith.com/api")
    for text in (account.id, repr(account), str(account)):
        assert KEY not in text
        assert hashlib.sha256(KEY.encode()).hexdigest()[:16] not in text
    assert 32 == len(account.id)


def test_every_client_object_of_one_key_is_one_account() -> None:
    """Two clients on the same key and server (spelled differently) share one account."""
    with Client(api_key=KEY, base_url="https://activitysmith.com/api/") as a:
        with Client(api_key=KEY, base_url="https://ActivitySmith.com:443/api") as b:
            assert account_of(a) == account_of(b)
            assert account_for(api_key=KEY, base_url="https://activitysmith.com/api") == (
                account_of(a)
            )


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"api_key": "", "base_url": "https://activitysmith.com/api"}, "api_key"),
        ({"api_key": KEY, "base_url": "ftp://activitysmith.com"}, "base_url"),
        ({"api_key": KEY, "base_url": "https://:99999/"}, "base_url"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, str], option: str) -> None:
    """An unusable key or URL is a ConfigurationError naming it, without echoing the key."""
    with pytest.raises(ConfigurationError) as caught:
        account_for(**kwargs)
    assert option == caught.value.option
    assert KEY not in str(caught.value)


def test_a_client_without_a_key_has_no_account() -> None:
    """account_of refuses a client whose configuration holds no key."""
    with Client(api_key=None, base_url="https://activitysmith.com/api") as client:
        with pytest.raises(ConfigurationError) as caught:
            account_of(client)
    assert "client" == caught.value.option
