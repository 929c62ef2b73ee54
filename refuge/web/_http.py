"""The HTTP side of ``refuge serve``: uvicorn's httptools protocol, with the request head bounded.

uvicorn parses HTTP with h11 (pure Python) or httptools (llhttp, in C). h11
made receiving an upload cost about 6 s per GiB here, more than encrypting it,
so the desk uses httptools. h11 bounded a request's head (its line and
headers) by ``h11_max_incomplete_event_size``; httptools has no such bound and
would gather a header that never ends, so this protocol counts the bytes
received before the head is complete and answers 400 past :data:`MAX_HEAD`.

A body is received with fewer copies and in larger reads than uvicorn's own
protocol makes (an upload of a GiB is 4,096 reads of 256 KiB there, each copied
twice more before the route sees it; BENCHMARKS.md, the web upload): the socket
is read into one buffer (the event loop's), :data:`READ_SIZE` at a time
(asyncio's ``BufferedProtocol``), which llhttp parses in place; the body bytes
llhttp hands on (its one copy) go to the route as they are.
"""

from __future__ import annotations

import asyncio
import threading

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from . import _peer

MAX_HEAD = 64 * 1024  # bytes of a request line and headers (the bound h11 had here)
# Bytes read from the socket at once (asyncio reads 256 KiB): a read's body becomes one bytes object,
# kept under glibc's 1 MiB mmap threshold (refuge.web.serve sets it) so that it comes from the heap.
READ_SIZE = 1024 * 1024 - 64 * 1024
_read = threading.local()  # the read buffer of the event loop running on this thread


class BoundedHttpTools(HttpToolsProtocol, asyncio.BufferedProtocol):
    """HttpToolsProtocol that refuses a request whose head outgrows :data:`MAX_HEAD`, reading into one buffer.

    The buffer is the event loop's, shared by its connections: asyncio fills it and calls
    :meth:`buffer_updated` in one step, which parses it at once, and llhttp copies what it
    keeps. So a thousand idle connections hold no read buffer each."""

    _head: int | None = 0  # bytes of the head received so far; None once the head is complete
    _another: bool = False  # the connection comes from another account of this machine (_peer.py)

    def connection_made(self, transport) -> None:  # type: ignore[override]
        """A new connection: whose it is, looked up once (the Guard refuses another account's requests)."""
        super().connection_made(transport)
        self._another = _peer.another_account({"client": self.client, "server": self.server})

    def get_buffer(self, sizehint: int) -> memoryview:
        """The read buffer of this thread's event loop (asyncio.BufferedProtocol)."""
        view = getattr(_read, "view", None)
        if view is None:
            view = _read.view = memoryview(bytearray(READ_SIZE))
        return view

    def buffer_updated(self, nbytes: int) -> None:
        """``nbytes`` were read into the buffer: parse them now (the next read reuses it)."""
        self.data_received(_read.view[:nbytes])

    def on_message_begin(self) -> None:
        """A new request: its head is counted from here."""
        super().on_message_begin()
        self._head = 0
        self.scope[_peer.SCOPE_KEY] = self._another  # type: ignore[literal-required]

    def on_headers_complete(self) -> None:
        """The head is complete: the body is not counted (its bounds are the routes')."""
        self._head = None
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """Body bytes (llhttp's copy) for the route as they are, unless some wait already unread.

        uvicorn appends each to a bytearray that it copies again into the message; a read
        alone is handed on itself (``bytes(body)`` is ``body``), with the same flow control."""
        cycle = self.cycle
        if cycle.body or cycle.response_complete or self.parser.should_upgrade():
            super().on_body(body)
            return
        cycle.body = body
        if len(body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()

    def data_received(self, data: bytes | memoryview) -> None:
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
