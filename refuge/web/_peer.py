"""Who is at the other end of a loopback connection: the account owning the client's socket (Linux).

Every local account can connect to 127.0.0.1, and what protects the desk from
another one (the secret path, the one-time link, the session cookie) can leak:
the link sits in a terminal's scrollback or a log, and a browser sends the
cookie to every port of 127.0.0.1, so to a server of another account's on
another port. The kernel knows who owns each end of a loopback connection: the
desk asks it for the client's socket (its address and port, connected to the
desk's) over netlink's sock_diag (an exact lookup, about 40 microseconds, open to
every account), else reads /proc/net/tcp (or tcp6), which lists every socket of
the network namespace with its owner's uid (milliseconds), and serves only its
own uid. With ``--listen`` (TLS), a client on the machine's own address is
found the same way; one that is not found is another machine's.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

_TABLES = {4: "/proc/net/tcp", 6: "/proc/net/tcp6"}
#: The scope key under which the desk's HTTP protocol (_http.py) hands on what it found once per connection
#: (reading the table costs milliseconds where a machine has many sockets: not once a request).
SCOPE_KEY = "refuge.another_account"


def _entry(host: str, port: int) -> tuple[int, bytes] | None:
    """(IP version, ADDR:PORT as /proc/net/tcp writes it: the address's 32-bit words in host order, in hex)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    words = struct.unpack(f"={len(ip.packed) // 4}I", ip.packed)
    return ip.version, ("".join(f"{w:08X}" for w in words) + f":{port:04X}").encode()


_SOCK_DIAG, _BY_FAMILY, _REQUEST, _ERROR = 4, 20, 1, 2  # NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST


def _diag_uid(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The owner of the TCP socket ``client`` -> ``server`` as netlink's sock_diag tells it; None if there is
    no such socket; OSError if netlink cannot be asked."""
    ip, peer = ipaddress.ip_address(client[0]), ipaddress.ip_address(server[0])
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    sockid = (struct.pack("!HH", client[1], server[1]) + ip.packed.ljust(16, b"\0") + peer.packed.ljust(16, b"\0")
              + struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF))  # any interface, no cookie: found by address
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid  # inet_diag_req_v2
    header = struct.pack("=IHHII", 16 + len(request), _BY_FAMILY, _REQUEST, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, _SOCK_DIAG) as s:
        s.settimeout(2)
        s.sendto(header + request, (0, 0))
        answer = s.recv(8192)
    _length, kind = struct.unpack_from("=IH", answer)
    if kind == _ERROR:
        return None
    if kind != _BY_FAMILY or len(answer) < 88 or struct.unpack_from("!HH", answer, 20) != (client[1], server[1]):
        raise OSError("an unexpected sock_diag answer")
    return struct.unpack_from("=I", answer, 80)[0]  # inet_diag_msg: 4 bytes, the socket id (48), 3 words, uid


def owner_uid(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The uid owning the socket at ``client`` that is connected to ``server``; None if none is listed."""
    try:
        return _diag_uid(client, server)
    except (OSError, ValueError):  # no netlink here (a sandbox): the table every account can read
        return _table_uid(client, server)


def _table_uid(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    """:func:`owner_uid` from /proc/net/tcp or tcp6."""
    local, remote = _entry(*client), _entry(*server)
    if local is None or remote is None:
        return None
    try:
        with open(_TABLES[local[0]], "rb") as f:
            table = f.read()
    except OSError:
        return None
    at = table.find(b" " + local[1] + b" " + remote[1] + b" ")
    if at < 0:
        return None
    fields = table[at:table.find(b"\n", at)].split()  # local rem st tx:rx tr:when retrnsmt uid ...
    return int(fields[6])


def _address(addr) -> tuple[str, int] | None:
    """(IP, port) of an ASGI address, an IPv4-mapped IPv6 address as the IPv4 one (as its socket is listed)."""
    try:
        ip = ipaddress.ip_address(addr[0])
        port = int(addr[1])
    except (ValueError, TypeError, IndexError):
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip), port


def another_account(scope) -> bool:
    """Whether the request comes from a socket of this machine that is not this process's account's.

    A client over loopback must be listed (one that cannot be found is refused rather than guessed); a
    client on another address (``--listen``) that is listed is a local account too, and is checked the
    same way; one that is not is another machine's. Found once per connection by the server's protocol
    when it put it in the scope, else looked up here (on Linux; elsewhere nothing is looked up)."""
    if SCOPE_KEY in scope:
        return scope[SCOPE_KEY]
    client, server = _address(scope.get("client")), _address(scope.get("server"))
    if client is None or server is None or not os.path.exists(_TABLES[4]):
        return False
    uid = owner_uid(client, server)
    if uid is None:
        return ipaddress.ip_address(client[0]).is_loopback
    return uid != os.geteuid()
