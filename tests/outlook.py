"""Outlook .msg files made by code: a minimal Compound File Binary writer and the MAPI streams
of a message with attachments ([MS-CFB], [MS-OXMSG]). No registry package writes .msg files
(extract-msg only reads), so the tests make their own, the way an attacker would craft one.
"""

from __future__ import annotations

import struct

SECTOR, MINI, CUTOFF = 512, 64, 4096
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _pad(data: bytes, size: int) -> bytes:
    return data + b"\0" * (-len(data) % size)


class _Entry:
    def __init__(self, name: str, kind: int, data: bytes = b"", children=None) -> None:
        self.name, self.kind, self.data, self.children = name, kind, data, children or []
        self.start, self.index = END, 0


def compound_file(tree: dict, clsid: bytes = b"\0" * 16) -> bytes:
    """A compound file from ``tree``: {name: bytes (a stream) or dict (a storage)}."""
    def build(name, value, kind=None):
        if isinstance(value, dict):
            return _Entry(name, kind or 1, children=[build(k, v) for k, v in value.items()])
        return _Entry(name, 2, value)

    root = build("Root Entry", tree, 5)
    entries = []

    def walk(e):
        e.index = len(entries)
        entries.append(e)
        for c in e.children:
            walk(c)

    walk(root)
    # the mini stream: every stream under the cutoff, in 64-byte mini sectors
    mini, minifat = b"", []
    for e in entries:
        if e.kind == 2 and len(e.data) < CUTOFF and e.data:
            e.start = len(mini) // MINI
            n = -(-len(e.data) // MINI)
            minifat += [e.start + i + 1 for i in range(n - 1)] + [END]
            mini += _pad(e.data, MINI)
    big = [e for e in entries if e.kind == 2 and len(e.data) >= CUTOFF]
    directory = b""
    plan = []  # (bytes, label) runs of sectors, in order
    plan.append(("ministream", _pad(mini, SECTOR)))
    for e in big:
        plan.append((e, _pad(e.data, SECTOR)))
    plan.append(("minifat", _pad(struct.pack(f"<{len(minifat)}I", *minifat), SECTOR) if minifat else b""))
    n_dir = -(-len(entries) * 128 // SECTOR)
    plan.append(("dir", b"\0" * (n_dir * SECTOR)))
    used = sum(len(d) // SECTOR for _, d in plan)
    n_fat = 1
    while n_fat * (SECTOR // 4) < used + n_fat:
        n_fat += 1
    fat, starts, at = [], {}, 0
    for label, data in plan:
        n = len(data) // SECTOR
        starts[label if isinstance(label, str) else id(label)] = at if n else END
        fat += [at + i + 1 for i in range(n - 1)] + ([END] if n else [])
        if not isinstance(label, str):
            label.start = at
        at += n
    fat_start = at
    fat += [FATSECT] * n_fat
    fat += [FREE] * (n_fat * (SECTOR // 4) - len(fat))
    root.start, root.data = (starts["ministream"] if mini else END), mini

    def dirent(e):
        name = e.name.encode("utf-16-le") + b"\0\0"
        kids = e.children
        child = kids[0].index if kids else NOSTREAM
        return (_pad(name, 64) + struct.pack("<HBB", len(name), e.kind, 1) + struct.pack("<III", NOSTREAM, e.right, child)
                + (clsid if e is root else b"\0" * 16) + b"\0" * 4 + b"\0" * 16 + struct.pack("<IQ", e.start,
                                                                                              len(e.data)))

    def sort_key(e):
        return (len(e.name), e.name.upper())

    for e in entries:
        e.right = NOSTREAM
    for e in entries:
        e.children.sort(key=sort_key)
        for a, b in zip(e.children, e.children[1:]):
            a.right = b.index
    directory = b"".join(dirent(e) for e in entries)
    body = b""
    for label, data in plan:
        if label == "dir":
            data = _pad(directory, SECTOR)
        body += data
    body += struct.pack(f"<{len(fat)}I", *fat)
    difat = [fat_start + i for i in range(n_fat)] + [FREE] * (109 - n_fat)
    header = (bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, n_fat, starts["dir"], 0, CUTOFF,
                                        starts["minifat"] if minifat else END, len(minifat) and -(-len(minifat) * 4 // SECTOR),
                                        END, 0)
              + struct.pack("<109I", *difat))
    return header + body


def _string(value: str) -> bytes:
    return value.encode("utf-16-le")


def _props(header: bytes, props: list[tuple[int, int, bytes]]) -> bytes:
    """A property stream: the header, then (tag, flags, 8-byte value) entries."""
    return header + b"".join(struct.pack("<II", tag, 6) + value for tag, _, value in props)


def outlook_msg(subject: str, sender: tuple[str, str], to: str, body: str, attachments: list[tuple[str, bytes]],
                sent: int = 1780308000) -> bytes:
    """An Outlook message (IPM.Note) from ``sender`` (name, address) with a plain-text body and
    attachments by value, submitted at ``sent`` (Unix seconds)."""
    strings = {0x001A: "IPM.Note", 0x0037: subject, 0x0C1A: sender[0], 0x0E04: to, 0x1000: body,
               0x5D01: sender[1], 0x0065: sender[1], 0x0C1F: sender[1]}
    tree: dict = {f"__substg1.0_{pid:04X}001F": _string(v) for pid, v in strings.items()}
    props = [((pid << 16) | 0x001F, 6, struct.pack("<II", len(_string(v)) + 2, 0)) for pid, v in strings.items()]
    props.append(((0x0E07 << 16) | 0x0003, 6, struct.pack("<II", 0, 0)))  # PR_MESSAGE_FLAGS
    props.append(((0x0039 << 16) | 0x0040, 6, struct.pack("<Q", (sent + 11644473600) * 10_000_000)))  # submit time
    tree["__properties_version1.0"] = _props(struct.pack("<8xIIII8x", 0, len(attachments), 0, len(attachments)), props)
    tree["__nameid_version1.0"] = {"__substg1.0_00020102": b"", "__substg1.0_00030102": b"",
                                   "__substg1.0_00040102": b""}
    for n, (name, data) in enumerate(attachments):
        att = {"__substg1.0_3707001F": _string(name), "__substg1.0_3704001F": _string(name[:8]),
               "__substg1.0_37010102": data}
        att_props = [((0x3705 << 16) | 0x0003, 6, struct.pack("<II", 1, 0)),  # PR_ATTACH_METHOD: by value
                     ((0x3701 << 16) | 0x0102, 6, struct.pack("<II", len(data), 0)),
                     ((0x3707 << 16) | 0x001F, 6, struct.pack("<II", len(_string(name)) + 2, 0))]
        att["__properties_version1.0"] = _props(b"\0" * 8, att_props)
        tree[f"__attach_version1.0_#{n:08X}"] = att
    return compound_file(tree, clsid=bytes.fromhex("0B0D020000000000C000000000000046"))
