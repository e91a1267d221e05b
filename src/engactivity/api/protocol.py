"""The HTTP/1.1 protocol the service is served with: uvicorn's httptools protocol, with
the project's JSON errors below the app too, a bound on the URL, and idle TLS
connections that close at once.

What uvicorn answers itself, before any app runs, is a plain-text ``400 Invalid HTTP
request received.`` for whatever httptools cannot parse. httptools' URL parser takes
at most 65,535 bytes (``parse_url`` refuses longer ones), and uvicorn gathers the URL
without a bound before it gets there. Here the URL is bounded while it arrives, and
both answers are JSON with ``Connection: close``:

- a URL (the request target: path and query) over ``MAX_URL_BYTES``: 414
  ``uri_too_long``;
- anything else the parser refuses (a broken request line, header or chunked body):
  400 ``malformed_request``.

The app's own errors are made in errors.py; this is only for what never reaches it.

An idle TLS connection (between requests, at the keep-alive timeout or at shutdown)
is closed without waiting for the client's TLS goodbye (close_notify): a client that
keeps the connection in its pool never sends one, and asyncio would wait for it for
30 seconds, holding up every shutdown for its whole grace period. The answers before
are complete (each has its length), so nothing is lost.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from engactivity.api.errors import error_body

MAX_URL_BYTES = 65_535
"""The longest URL httptools splits into path and query: anything longer is a 414."""

_URI_TOO_LONG = (
    414,
    error_body(
        "uri_too_long",
        f"the request URL may hold at most {MAX_URL_BYTES} bytes; send long parameter "
        "lists in a POST body (JSON or form) instead",
        max_bytes=MAX_URL_BYTES,
    ),
)
_MALFORMED = (
    400,
    error_body("malformed_request", "the request is not valid HTTP/1.1; it was not read"),
)


class _URLTooLong(Exception):
    """Raised from the parser's URL callback: httptools stops parsing at once."""


class HttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusal = _MALFORMED

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self.refusal = _URI_TOO_LONG
            raise _URLTooLong

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this for every request httptools refuses (msg is its text)."""
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            # An answer is half written: nothing more can be said on this connection.
            self.transport.close()
            return
        status, body = self.refusal
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head.append(b"%s: %s\r\n" % (name, value))
        head.append(
            b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % len(body)
        )
        self.transport.write(b"".join([*head, body]))
        self.transport.close()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown begins: an idle TLS connection closes at once,
        the others as uvicorn closes them (after their answer)."""
        if self._idle_tls():
            self.transport.abort()
        else:
            super().shutdown()

    def timeout_keep_alive_handler(self) -> None:
        if self._idle_tls():
            self.transport.abort()
        else:
            super().timeout_keep_alive_handler()

    def _idle_tls(self) -> bool:
        idle = self.cycle is None or self.cycle.response_complete
        return idle and self.scheme == "https"
