"""``refuge serve``: the web desk on this machine, acting as the person who starts it."""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import webbrowser
from pathlib import Path

import click

from .._context import Context, pass_ctx

LOOPBACK = ("127.0.0.1", "::1", "localhost")
# Seconds the requests in flight get once the desk has locked (or Ctrl-C): then they are cancelled. Without a
# bound, an upload that stopped sending half way kept the locked desk's process running for ever.
LOCK_GRACE = 3


@click.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="The port (0: any free one).")
@click.option("--no-browser", is_flag=True, help="Only print the sign-in link; do not open a browser.")
@click.option("--listen", "listen", metavar="ADDR", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback needs --tls-cert and --tls-key.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), help="A PEM certificate, for HTTPS.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), help="Its PEM private key.")
@click.option("--idle-timeout", "minutes", type=click.FloatRange(min=0.1, max=24 * 60), default=30.0,
              show_default=True, help="Lock after this many minutes without a request (as refuge unlock).")
@pass_ctx
def serve(c: Context, port, no_browser, listen, tls_cert, tls_key, minutes) -> None:
    """Open the web desk: upload, tag, find and review documents, build packets, read the audit log.

    It listens on 127.0.0.1 only, acts as you (your identity is unlocked here,
    from refuge unlock or your passphrase, never typed in the page), and prints
    a one-time sign-in link. It locks after --idle-timeout minutes unused.
    """
    import uvicorn

    from ._desk import Desk
    from .app import make_app

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if listen not in LOOPBACK and not tls_cert:
        raise click.UsageError(f"refusing to listen on {listen} without TLS; give --tls-cert and --tls-key, "
                               "or leave out --listen to stay on 127.0.0.1")
    sock = _bind(listen, port)
    vault = c.vault()  # the passphrase is asked here, once, on the terminal (or the agent answers)
    server: uvicorn.Server | None = None

    def stop() -> None:
        click.echo("refuge: the desk locked; run refuge serve again to open it", err=True)
        # requests still in flight after LOCK_GRACE are cancelled: that one line says it, not uvicorn's tracebacks
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        if server is not None:
            server.should_exit = True

    desk = Desk(vault, minutes * 60, tls=bool(tls_cert), on_lock=stop)
    host, bound = sock.getsockname()[:2]
    name = "localhost" if listen == "localhost" else listen
    desk.bind(name, bound)
    url = f"{'https' if tls_cert else 'http'}://{_netloc(name, bound)}{desk.prefix}/login?token={desk.new_token()}"
    click.echo(f"refuge: the desk is open at {url}")
    click.echo("refuge: the link works once; press Ctrl-C to stop", err=True)
    sys.stdout.flush()
    if not no_browser:
        _open_browser(url, desk)
    from ._http import BoundedHttpTools

    config = uvicorn.Config(make_app(desk), log_level="warning", access_log=False, lifespan="off",
                            server_header=False, date_header=False, ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                            http=BoundedHttpTools,  # llhttp (C): h11 cost 6 s per GiB received
                            timeout_graceful_shutdown=LOCK_GRACE,
                            ws="none")  # no WebSocket: none is served, and none may be opened past the Guard
    server = uvicorn.Server(config)
    _return_freed_memory()
    threading.Thread(target=_watch_idle, args=(desk,), daemon=True).start()
    # The desk's own folder for what a build writes before it is recorded (mode 700): removed once the server
    # has stopped. A build is a thread the lock does not wait for, so its own clean-up never ran when the desk
    # locked mid-build: its folder stayed behind (with the packet and review report, if they had been written).
    desk.workdir = tempfile.mkdtemp(prefix="refuge-desk-work-")
    try:
        server.run(sockets=[sock])
    finally:
        shutil.rmtree(desk.workdir, ignore_errors=True)


def _return_freed_memory() -> None:
    """Make glibc give every buffer of 1 MiB or more its own mapping, unmapped when freed.

    Otherwise its threshold grows with the buffers freed (an upload's indexed text, a
    preview) and later ones stay in the heap: the server's memory would keep the
    high-water mark of the largest document it indexed (measured: 125 -> 117 MiB
    for an 8 MiB text). M_MMAP_THRESHOLD is -3 in glibc's malloc.h.
    """
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(-3, 1 << 20)
    except (OSError, AttributeError):  # not glibc: its allocator decides
        pass


def _watch_idle(desk) -> None:
    """Lock on time even when no request comes: the identity must not outlive the idle timeout."""
    import time

    while not desk.locked:
        time.sleep(min(5.0, desk.idle_seconds / 4))
        desk.check_idle()


def _bind(listen: str, port: int) -> socket.socket:
    """A listening socket on ``listen``, or a one-line error."""
    from vault.errors import InvalidInput

    addr = "127.0.0.1" if listen == "localhost" else listen
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET
    except ValueError:
        raise InvalidInput(f"--listen takes an IP address, not {listen}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((addr, port))
        sock.listen(64)
    except OSError as e:
        sock.close()
        raise InvalidInput(f"cannot listen on {_netloc(addr, port)}: {e.strerror.lower()}") from None
    sock.set_inheritable(False)
    return sock


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _open_browser(url: str, desk) -> None:
    """Open the link through a private file, so that the token never shows in a browser's command line
    (which every local user can read in /proc); the file is removed once the token is used, or after 2 min."""
    launch = launch_file(url)

    def clean() -> None:
        desk.exchanged.wait(120)
        launch.unlink(missing_ok=True)
        os.rmdir(launch.parent)

    threading.Thread(target=clean, daemon=True).start()
    webbrowser.open(launch.as_uri())


def launch_file(url: str) -> Path:
    """A page (mode 600, in a new folder of mode 700) that moves the browser on to ``url``."""
    folder = tempfile.mkdtemp(prefix="refuge-desk-")
    launch = Path(folder) / "open.html"
    fd = os.open(launch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={url}">'
                f'<title>refuge</title><a href="{url}">refuge</a>\n')
    return launch
