"""The HTTP side of ``refuge serve``: uvicorn's httptools protocol, with the request head bounded.

uvicorn parses HTTP with h11 (pure Python) or httptools (llhttp, in C). h11
made receiving an upload cost about 6 s per GiB here, more than encrypting it,
so the desk uses httptools. h11 bounded a request's head (its line and
headers) by ``h11_max_incomplete_event_size``; httptools has no such bound and
would gather a header that never ends, so this protocol counts the bytes
received before the head is complete and answers 400 past :data:`MAX_HEAD`.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD = 64 * 1024  # bytes of a request line and headers (the bound h11 had here)


class BoundedHttpTools(HttpToolsProtocol):
    """HttpToolsProtocol that refuses a request whose head outgrows :data:`MAX_HEAD`."""

    _head: int | None = 0  # bytes of the head received so far; None once the head is complete

    def on_message_begin(self) -> None:
        """A new request: its head is counted from here."""
        super().on_message_begin()
        self._head = 0

    def on_headers_complete(self) -> None:
        """The head is complete: the body is not counted (its bounds are the routes')."""
        self._head = None
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        """Feed the parser, unless the head being received is already too long.

        A read may hold the end of the head and the start of the body (a client that sends
        both at once): only the bytes up to the bound are fed while the head is incomplete,
        and the rest only if the head ended within them."""
        if self._head is not None and self._head + len(data) > MAX_HEAD:
            room = MAX_HEAD - self._head
            self._head = MAX_HEAD
            super().data_received(data[:room])
            if self._head is not None:  # still in the head past the bound
                self._head = None
                self.send_400_response("Request head too large.")
                return
            data = data[room:]
        elif self._head is not None:
            self._head += len(data)
        super().data_received(data)
