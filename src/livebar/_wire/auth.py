"""The API key on the wire: where it is written, and where it must never show.

The key travels only in ``BearerAuth`` (an ``httpx.Auth`` whose ``repr`` is redacted and that
keeps it out of every local of the request's frames); a server reached over plain ``http://``
(loopback only) or on a loopback address is reached ``direct``ly, so no proxy from the
environment ever sees it; and ``hide_in_library_logs`` cuts every client's key out of what
httpx and httpcore log (their DEBUG lines show an answer's headers, and a server may echo a key
in them).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from urllib.parse import urlsplit

import httpx

from livebar._wire.config import is_loopback
from livebar._wire.errors import redact

__all__ = [
    "BearerAuth",
    "ForeignRedirect",
    "direct",
    "hide_in_library_logs",
    "same_origin_redirects",
    "same_origin_redirects_async",
]

MAX_REDIRECTS = 3
"""How many redirects (within the base URL's own origin) one request follows."""


class ForeignRedirect(httpx.RequestError):
    """The server redirected a request to another origin: not followed (the key is not sent
    there, and a request without it would read as a refused key)."""


def same_origin_redirects(response: httpx.Response) -> None:
    """An ``httpx`` response hook: a redirect is followed only within the request's origin
    (scheme, host and port: a load balancer's ``307`` to the same server); one to anywhere else
    raises ``ForeignRedirect``, naming where, so that the base URL can be corrected."""
    if not response.has_redirect_location:
        return
    here = response.request.url
    there = here.join(response.headers["location"])
    if (there.scheme, there.host, there.port) != (here.scheme, here.host, here.port):
        where = there.copy_with(query=None, fragment=None, username=None, password=None)
        raise ForeignRedirect(
            f"the server redirects to {where} (another origin; set base_url there)",
            request=response.request,
        )


async def same_origin_redirects_async(response: httpx.Response) -> None:
    """``same_origin_redirects`` for ``httpx.AsyncClient``."""
    same_origin_redirects(response)


class BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <key>``; the key never shows in a ``repr`` or a local."""

    def __init__(self, key: str | None) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "<BearerAuth ***>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._key is not None:
            request.headers["Authorization"] = "Bearer " + self._key
        yield request


def direct(base_url: str) -> bool:
    """Whether requests to ``base_url`` must bypass any proxy (plain HTTP, or loopback)."""
    parts = urlsplit(base_url)
    return parts.scheme == "http" or is_loopback(parts.hostname or "")


class _HideKeys(logging.Filter):
    """Cuts the keys of livebar's clients out of httpx's and httpcore's log records (their
    DEBUG lines show an answer's headers, and a server may echo a key in them)."""

    def __init__(self) -> None:
        super().__init__("livebar")
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = message
        for key in self.keys:
            hidden = redact(hidden, key)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


_hide_keys = _HideKeys()
_LIBRARY_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
"""Where httpx and httpcore log (a filter applies only to the logger a record is made on)."""


def hide_in_library_logs(key: str | None) -> None:
    """Keep ``key`` out of what httpx and httpcore log (installed with the first client)."""
    if not key or key in _hide_keys.keys:
        return
    _hide_keys.keys.add(key)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if _hide_keys not in library.filters:
            library.addFilter(_hide_keys)
