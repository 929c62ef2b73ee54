"""Assemble a referral packet: cover letter, index, documents, numbering, bookmarks, volumes.

``assemble(request, pages)`` takes the planner's items in their final order, their pages
(rendered and redacted by the stages before) and the recipient profile, and returns the
packet as one or more :class:`~packets.model.Volume` files (``build(request)`` renders,
and redacts through ``request.redact``, first):

* a cover letter (the profile's text, wrapped, as many pages as it needs);
* the index (a table or list with the profile's columns, headed per section), each entry
  a link to its document's first page; volume 1 carries the whole index, and entries for
  documents in later volumes name the volume instead of linking;
* a separator page before each section when the profile asks for them;
* each document's pages, followed by the translator's declaration when it is a translation and
  the profile requires one;
* every page numbered ("Page N of M" and/or a Bates number) in an overlay with a white
  background, consecutively across all volumes;
* one bookmark per document, under its section's heading;
* volumes split at document boundaries so that each file stays under the profile's
  size limit (less room kept for the signature).

The output is deterministic: the same request (and ``SOURCE_DATE_EPOCH``) gives the same
bytes. Nothing is written to disk. Errors are :class:`AssembleError` (or
:class:`~packets.render.RenderError`) with one line naming a document id, never a title.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name

from vault.errors import InvalidInput

from ._layout import (
    CELL_PAD,
    STAMP_FONT,
    STAMP_SIZE,
    TYPE_NAMES,
    WORDS,
    Entry,
    Page,
    language_name,
    layout_index,
    layout_letter,
    layout_separator,
    pdf_string,
    redaction_statement,
    stamp_box,
)
from ._layout import cover_text  # the lawyer's letter: sender, addressee, references, enclosures
from ._pdf import source_date_epoch
from .model import Item, PacketRequest, Volume
from .profiles import DEFAULT_INDEX_TITLE, Profile, Section
from .redact import redact_rendered
from .render import (
    Fonts,
    Rendered,
    RenderError,
    describe_char,
    fonts_for,
    page_count,
    render_item,
    save_pdf,
)

__all__ = [
    "AssembleError",
    "Item",
    "PacketRequest",
    "RenderError",
    "SIGNATURE_HEADROOM",
    "Volume",
    "assemble",
    "build",
    "page_count",
]

#: Bytes kept free under ``volumes.max_bytes`` in each volume when the profile requires a
#: signature, for the signature the sign stage appends afterwards (the same figure as
#: ``packets.sign.SIGNATURE_HEADROOM``), but never more than half the limit.
SIGNATURE_HEADROOM = 64 * 1024

PRODUCER = "refuge"

_MAX_PAGINATION_PASSES = 12
_MAX_SPLIT_PASSES = 24
_UNIT_EXTRA_PAGE_ESTIMATE = 1500  # bytes of a separator or declaration page
_STAMP_ESTIMATE = 160  # bytes of one page's number stamp

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class AssembleError(InvalidInput):
    """A packet cannot be assembled. One line, naming a document id where one is at fault."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(" ".join(str(message).splitlines()), hint=hint)


# ---------------------------------------------------------------------------- units


@dataclass
class _Unit:
    """One document with the pages that travel with it (separator, declaration)."""

    index: int  # position of the document in the packet, 0-based
    item: Item
    rendered: Rendered
    group: int  # index into _Ctx.groups
    separator: bool
    declaration: str | None
    size_estimate: int | None = None

    @property
    def pages(self) -> int:
        return (1 if self.separator else 0) + self.rendered.page_count + (1 if self.declaration else 0)


@dataclass
class _Group:
    section: Section | None
    title: str


@dataclass
class _Ctx:
    request: PacketRequest
    profile: Profile
    lang: str
    fonts: Fonts
    units: list[_Unit]
    groups: list[_Group]
    info_date: str
    keep: list = field(default_factory=list)
    file_names: dict[int, str] = field(default_factory=dict)  # per-type: each file's name, as written
    file_types: dict[int, str] = field(default_factory=dict)  # per-type: each file's document type


# ------------------------------------------------------------------------ pagination


@dataclass
class _Pagination:
    cover: list[Page]
    index: list[Page]
    unit_start: list[int]  # packet page number of each unit's first page (1-based)
    doc_first: list[int]
    doc_last: list[int]
    total: int
    volumes: int

    @property
    def front(self) -> int:
        return len(self.cover) + len(self.index)


def _area(profile: Profile) -> tuple[float, float, float, float]:
    m = profile.margins
    return (m.left, m.bottom, profile.page_width - m.right, profile.page_height - m.top)


def _range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _entries(ctx: _Ctx, pg: _Pagination, volume_of: list[int]) -> list[Entry]:
    profile, lang = ctx.profile, ctx.lang
    words = WORDS[lang]
    types = TYPE_NAMES[lang]
    out: list[Entry] = []
    named = ctx.file_names  # per-type: each section's file is named where its documents are listed
    if named.get(1):
        out.append(Entry({}, None, heading=words["cover_file"].format(name=named[1])))
    last_group = None
    for u in ctx.units:
        vol = volume_of[u.index]
        if u.group != last_group and named.get(vol):
            title = ctx.groups[u.group].title
            out.append(Entry({}, None, heading=(f"{title} — " if title else "") + words["file"].format(name=named[vol])))
        elif u.group != last_group and ctx.groups[u.group].title:
            out.append(Entry({}, None, heading=ctx.groups[u.group].title))
        last_group = u.group
        first, last = pg.doc_first[u.index], pg.doc_last[u.index]
        pages = _range(first, last)
        if vol != 1 and not named.get(vol):
            pages = words["volume"].format(n=vol, pages=pages)
        bates = ""
        if profile.numbering.bates:
            b0, b1 = profile.bates_label(first), profile.bates_label(last)
            bates = b0 if first == last else f"{b0}-{b1}"
        it = u.item
        cells = {
            "number": str(u.index + 1),
            "title": it.title,
            "type": types.get(it.type, it.type),
            "section": ctx.groups[u.group].title,
            "language": language_name(it.lang, lang),
            "date": it.date,
            "pages": pages,
            "bates": bates,
        }
        out.append(Entry(cells, u.index if vol == 1 else None))
    return out


def _paginate(ctx: _Ctx, volume_of: list[int]) -> _Pagination:
    """Lay out the cover and index until their page counts settle (they depend on the
    page total and the page ranges they print)."""
    profile, f = ctx.profile, ctx.fonts
    area = _area(profile)
    n_vol = max(volume_of) if volume_of else 1
    cover_n, index_n = 1, (0 if profile.index.style == "none" else 1)
    for _ in range(_MAX_PAGINATION_PASSES):
        p = cover_n + index_n + 1
        unit_start, doc_first, doc_last = [], [], []
        for u in ctx.units:
            unit_start.append(p)
            if u.separator:
                p += 1
            doc_first.append(p)
            p += u.rendered.page_count + (1 if u.declaration else 0)
            doc_last.append(p - 1)
        total = p - 1
        pg = _Pagination([], [], unit_start, doc_first, doc_last, total, n_vol)
        text = cover_text(profile, ctx.request, ctx.lang, document_count=len(ctx.units), page_count=total,
                          volume_count=n_vol, redactions=redaction_statement(ctx.request.redactions, ctx.lang))
        pg.cover = layout_letter(text, f, area)
        if index_n:
            pg.index = layout_index(ctx.profile, ctx.fonts, ctx.lang, _entries(ctx, pg, volume_of), area)
        if len(pg.cover) == cover_n and len(pg.index) == index_n:
            return pg
        cover_n, index_n = len(pg.cover), len(pg.index)
    raise AssembleError("the cover letter and index pages did not settle; report this as a bug")


# -------------------------------------------------------------------------- drawing


def _draw(ctx: _Ctx, pg: _Pagination) -> tuple[pikepdf.Pdf, dict[str, list[int]]]:
    """Draw the generated pages (cover, index, separators, declarations) in one reportlab
    document; return it opened with pikepdf and where each kind of page is in it."""
    import io

    from reportlab.pdfgen.canvas import Canvas

    profile, f = ctx.profile, ctx.fonts
    area = _area(profile)
    pages: list[Page] = list(pg.cover) + list(pg.index)
    where: dict[str, list[int]] = {"cover": list(range(len(pg.cover))),
                                    "index": list(range(len(pg.cover), len(pg.cover) + len(pg.index))),
                                    "separator": [-1] * len(ctx.units), "declaration": [-1] * len(ctx.units)}
    for u in ctx.units:
        if u.separator:
            where["separator"][u.index] = len(pages)
            pages.append(layout_separator(ctx.groups[u.group].title, f, area, profile.page_height))
        if u.declaration:
            decl = layout_letter(u.declaration, f, area, first_bold=True)
            where["declaration"][u.index] = len(pages)
            pages.append(decl[0])
            if len(decl) > 1:
                raise AssembleError(f"document {u.item.doc_id}: the translator's declaration does not fit on one"
                                    " page; shorten the translator details")
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(profile.page_width, profile.page_height), invariant=1, pageCompression=1)
    c.setStrokeColorRGB(0.55, 0.55, 0.55)
    c.setLineWidth(0.5)
    for page in pages:
        font = None
        for op in page.ops:
            if op[0] == "t":
                _k, name, size, x, y, text = op
                if font != (name, size):
                    c.setFont(name, size)
                    font = (name, size)
                c.drawString(x, y, text)
            else:
                _k, lx0, ly0, lx1, ly1 = op
                c.line(lx0, ly0, lx1, ly1)
        c.showPage()
        c.setStrokeColorRGB(0.55, 0.55, 0.55)
        c.setLineWidth(0.5)
    c.save()
    gen = pikepdf.open(io.BytesIO(buf.getvalue()))
    ctx.keep.append(gen)
    return gen, where


# --------------------------------------------------------------------------- stamps


def _stamp(n: int, total: int, ctx: _Ctx) -> bytes:
    """The overlay for packet page ``n`` of ``total``: white boxes with the labels."""
    profile, nb = ctx.profile, ctx.profile.numbering
    labels = []
    if nb.consecutive:
        labels.append((profile.page_label(n, total, ctx.lang), nb.position))
    if nb.bates:
        labels.append((profile.bates_label(n), nb.bates_position))
    parts = []
    for text, position in labels:
        x, y, w, h = stamp_box(text, position, profile)
        f = lambda v: f"{v:.2f}".rstrip("0").rstrip(".")  # noqa: E731
        parts.append(
            f"q 1 g {f(x)} {f(y)} {f(w)} {f(h)} re f 0 g BT /RfgStamp {f(STAMP_SIZE)} Tf "
            f"{f(x + CELL_PAD)} {f(y + CELL_PAD + STAMP_SIZE * 0.22)} Td ".encode()
            + pdf_string(text) + b" Tj ET Q")
    return b"\n".join(parts)


def _check_labels(ctx: _Ctx, total: int) -> None:
    profile = ctx.profile
    try:
        if profile.numbering.consecutive:
            profile.page_label(total, total, ctx.lang).encode("cp1252")
    except UnicodeEncodeError:
        raise AssembleError(f"{profile.source_name}: numbering.label.{ctx.lang}: has characters outside"
                            " Latin-1; write the label in plain Latin letters") from None


# -------------------------------------------------------------------------- volumes


def _info_date(request: PacketRequest) -> str:
    when = source_date_epoch(AssembleError)
    if when is None:
        d = _dt.date.fromisoformat(request.date)
        when = _dt.datetime(d.year, d.month, d.day, tzinfo=_dt.timezone.utc)
    return when.strftime("D:%Y%m%d%H%M%SZ")


def _number_pages(ctx: _Ctx, out: pikepdf.Pdf, wrap: list[bool], first_page: int, total: int) -> None:
    """Stamp every page with its number; generated pages (``wrap``) get q/Q around
    their content first."""
    profile = ctx.profile
    if not (profile.numbering.consecutive or profile.numbering.bates):
        return
    stamp_font = out.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name(f"/{STAMP_FONT}"),
                                              Encoding=Name.WinAnsiEncoding))
    q_open = pikepdf.Stream(out, b"q\n")
    for k, page in enumerate(out.pages):
        obj = page.obj
        res = obj.get(Name.Resources)
        if not isinstance(res, pikepdf.Dictionary):
            res = Dictionary()
            obj.Resources = res
        fonts_dict = res.get(Name.Font)
        if not isinstance(fonts_dict, pikepdf.Dictionary):
            fonts_dict = Dictionary()
            res.Font = fonts_dict
        fonts_dict.RfgStamp = stamp_font
        body = _stamp(first_page + k, total, ctx)
        if wrap[k]:
            page.contents_add(q_open, prepend=True)
            body = b"Q\n" + body
        page.contents_add(pikepdf.Stream(out, body))


def _link_index(out: pikepdf.Pdf, index_local: list[int], index_pages: list, doc_local: dict[int, int]) -> None:
    """Links from the index to the documents of this volume."""
    for local, page_ops in zip(index_local, index_pages):
        annots = []
        for x0, y0, x1, y1, doc in page_ops.links:
            if doc not in doc_local:
                continue
            target = out.pages[doc_local[doc]].obj
            annots.append(out.make_indirect(Dictionary(
                Type=Name.Annot, Subtype=Name.Link, Rect=Array([x0, y0, x1, y1]), Border=Array([0, 0, 0]),
                F=4, Dest=Array([target, Name.Fit]))))
        if annots:
            out.pages[local].obj.Annots = Array(annots)


def bookmark_label(ctx: _Ctx, u: _Unit) -> str:
    """What a document's bookmark says: its (redacted) title only where the profile's index
    shows titles; otherwise "3. Medical", its number and type, as the index names it. Titles
    come from file names by default and can tell the story, so they never reach the packet
    through a bookmark when the profile keeps them out of the index."""
    index = ctx.profile.index
    if index.style != "none" and "title" in index.columns and u.item.title:
        return u.item.title
    return f"{u.index + 1}. {TYPE_NAMES[ctx.lang].get(u.item.type, u.item.type)}"


def _bookmark(ctx: _Ctx, out: pikepdf.Pdf, units: list[_Unit], doc_local: dict[int, int]) -> None:
    """Bookmarks: one per document, under its section's heading."""
    with out.open_outline() as outline:
        current = None
        for u in units:
            entry = pikepdf.OutlineItem(bookmark_label(ctx, u), doc_local[u.index])
            group = ctx.groups[u.group]
            if not group.title:
                outline.root.append(entry)
                current = None
                continue
            if current is None or current[0] != u.group:
                head = pikepdf.OutlineItem(group.title, doc_local[u.index])
                outline.root.append(head)
                current = (u.group, head)
            current[1].children.append(entry)


def _write_volume(ctx: _Ctx, pg: _Pagination, gen: pikepdf.Pdf, where: dict[str, list[int]],
                  number: int, units: list[_Unit], n_volumes: int) -> Volume:
    profile, lang = ctx.profile, ctx.lang
    out = pikepdf.new()
    wrap: list[bool] = []  # generated pages get q/Q around their content before the stamp
    doc_local: dict[int, int] = {}  # document index -> local page index of its first page
    index_local: list[int] = []
    if number == 1:
        for i in where["cover"]:
            out.pages.append(gen.pages[i])
            wrap.append(True)
        for i in where["index"]:
            index_local.append(len(wrap))
            out.pages.append(gen.pages[i])
            wrap.append(True)
    first_page = pg.unit_start[units[0].index] if units and number != 1 else 1
    for u in units:
        if u.separator:
            out.pages.append(gen.pages[where["separator"][u.index]])
            wrap.append(True)
        doc_local[u.index] = len(wrap)
        for p in u.rendered.pdf.pages:
            out.pages.append(p)
            wrap.append(False)
        if u.declaration:
            out.pages.append(gen.pages[where["declaration"][u.index]])
            wrap.append(True)
    last_page = first_page + len(wrap) - 1

    _number_pages(ctx, out, wrap, first_page, pg.total)
    _link_index(out, index_local, pg.index, doc_local)
    _bookmark(ctx, out, units, doc_local)

    out.Root.PageLabels = Dictionary(Nums=Array([0, Dictionary(S=Name.D, St=first_page)]))
    out.Root.Lang = pikepdf.String(lang)
    if units:
        out.Root.PageMode = Name.UseOutlines
    title = f"{profile.name} {WORDS[lang]['packet']}"
    if n_volumes > 1:
        title += ", " + WORDS[lang]["of_volumes"].format(n=number, k=n_volumes)
    out.docinfo = out.make_indirect(Dictionary(
        Title=pikepdf.String(title), Producer=pikepdf.String(PRODUCER),
        CreationDate=pikepdf.String(ctx.info_date), ModDate=pikepdf.String(ctx.info_date)))
    data = save_pdf(out)
    return Volume(number=number, data=data, first_page=first_page, last_page=last_page,
                  items=[u.item.doc_id for u in units], type=ctx.file_types.get(number))


def _assign(ctx: _Ctx, limit: int, overhead: dict[int, int], fitted=None) -> list[int]:
    """Greedy split at document boundaries: fill each volume up to ``limit`` bytes."""
    default = max([v for k, v in overhead.items() if k != 1] or [overhead.get(1, 0)])
    volume_of = []
    vol = 1
    used = overhead.get(1, default)
    has_content = True  # volume 1 holds the cover and index
    for u in ctx.units:
        size = u.size_estimate or 0
        if has_content and used + size > limit:
            vol += 1
            used = overhead.get(vol, default)
            has_content = False
        if not has_content and used + size > limit:
            raise _too_big(ctx, u, used + size, limit, fitted)
        used += size
        has_content = True
        volume_of.append(vol)
    return volume_of


def _too_big(ctx: _Ctx, u: _Unit, size: int, limit: int, fitted=None) -> AssembleError:
    after = f" after fitting its images ({fitted.describe()})" if fitted is not None else ""
    return AssembleError(
        f"document {u.item.doc_id} alone makes a volume of about {size} bytes{after}, over the {limit}-byte limit"
        f" of {ctx.profile.id} (volumes.max_bytes less room for the signature)", hint="packet-too-big")


def _estimate(u: _Unit) -> int:
    size = len(u.rendered.to_bytes()) + _STAMP_ESTIMATE * u.pages
    if u.separator:
        size += _UNIT_EXTRA_PAGE_ESTIMATE
    if u.declaration:
        size += _UNIT_EXTRA_PAGE_ESTIMATE
    return size


def _build_volumes(ctx: _Ctx, volume_of: list[int]) -> list[Volume]:
    pg = _paginate(ctx, volume_of)
    _check_labels(ctx, pg.total)
    gen, where = _draw(ctx, pg)
    n_vol = max(volume_of) if volume_of else 1
    volumes = []
    for v in range(1, n_vol + 1):
        units = [u for u in ctx.units if volume_of[u.index] == v]
        volumes.append(_write_volume(ctx, pg, gen, where, v, units, n_vol))
    return volumes


# ---------------------------------------------------------------------------- build


def _prepare(request: PacketRequest) -> _Ctx:
    profile = request.profile
    if not isinstance(profile, Profile):
        raise AssembleError("request.profile: not a Profile; load one with packets.profiles.get_profile")
    lang = request.lang or profile.language
    if lang not in profile.accepted_languages:
        raise AssembleError(f"{profile.source_name}: language {lang!r} is not accepted by {profile.id};"
                            f" use one of {', '.join(profile.accepted_languages)}")
    if not isinstance(request.date, str) or not _DATE.fullmatch(request.date):
        raise AssembleError(f"date: {str(request.date)[:20]!r} is not yyyy-mm-dd; pass the packet date as 2026-11-23")
    try:
        _dt.date.fromisoformat(request.date)
    except ValueError:
        raise AssembleError(f"date: {request.date!r} is not a calendar date; pass a real date") from None
    if not request.items:
        raise AssembleError("no documents to assemble; the plan must include at least one document")
    seen: set[str] = set()
    for item in request.items:
        if not isinstance(item, Item):
            raise AssembleError("request.items: every item must be a packets.model.Item")
        if item.doc_id in seen:
            raise AssembleError(f"document {item.doc_id}: appears twice in the packet; include each document once")
        seen.add(item.doc_id)
    return _Ctx(request, profile, lang, fonts_for(""), [], [], _info_date(request))


def _declaration(ctx: _Ctx, item: Item) -> str:
    t = item.translator
    needed = ("translator_name", "source_language", "dialect")
    if not isinstance(t, dict) or any(not str(t.get(k) or "").strip() for k in needed):
        raise AssembleError(
            f"document {item.doc_id}: the translation has no translator details for the declaration"
            f" {ctx.profile.id} requires; record translator_name, source_language and dialect"
            " (\"none\" if there is none) with the translation")
    fields = {k: str(t[k]) for k in needed}
    fields["target_language"] = str(t.get("target_language") or language_name(item.lang or ctx.lang, ctx.lang))
    fields["date"] = str(t.get("date") or item.date)
    text = ctx.profile.translator_declaration(ctx.lang, **fields)
    bad = ctx.fonts.unsupported(text)
    if bad is not None:
        raise AssembleError(f"document {item.doc_id}: the translator details have characters the packet font"
                            f" cannot show ({describe_char(bad)}); write them in Latin, Greek or Cyrillic script")
    return text


def _plan_units(ctx: _Ctx, rendered: list[Rendered]) -> None:
    profile, lang = ctx.profile, ctx.lang
    other = WORDS[lang]["other"]
    section_of: dict[str, Section | None] = {}
    prev_key: object = object()
    for i, (item, r) in enumerate(zip(ctx.request.items, rendered)):
        if item.translation_of and item.translation_of in section_of:
            section = section_of[item.translation_of]
        else:
            section = profile.section_for(item.type)
        section_of[item.doc_id] = section
        key = section.id if section is not None else None
        new_group = key != prev_key
        if new_group:
            title = (section.title.get(lang) or section.title.get(profile.language) or section.id) \
                if section is not None else other
            if len(profile.sections) == 1 and section is not None and not profile.separator_pages:
                title = ""  # a single section needs no heading
            ctx.groups.append(_Group(section, title))
        prev_key = key
        declaration = None
        if item.translation_of and profile.translations.declaration_required:
            declaration = _declaration(ctx, item)
        ctx.units.append(_Unit(i, item, r, len(ctx.groups) - 1,
                               separator=bool(profile.separator_pages and new_group), declaration=declaration))
    _choose_fonts(ctx)


def _choose_fonts(ctx: _Ctx) -> None:
    """Pick the fonts for the generated pages from everything they will show, and say
    which text cannot be shown at all (naming the document, never its title)."""
    profile, lang = ctx.profile, ctx.lang
    index_shown = profile.index.style != "none"
    cover = cover_text(profile, ctx.request, lang, document_count=0, page_count=0, volume_count=0)
    checks: list[tuple[str, str]] = [
        (cover, "cover letter: the sender organisation, recipient or letter text"),
        (profile.index.title.get(lang) or DEFAULT_INDEX_TITLE[lang], f"{profile.source_name}: index.title.{lang}"),
        (" ".join(WORDS[lang].values()), "index headings"),
    ]
    for g in ctx.groups:
        checks.append((g.title, f"{profile.source_name}: sections: a title"))
    if profile.output == "per-type" and index_shown:
        checks.append((ctx.request.file_name or "", "the output file's name"))
    for u in ctx.units:
        it = u.item
        if index_shown:
            cols = profile.index.columns
            if "title" in cols:
                checks.append((it.title, f"document {it.doc_id}: its title"))
            if "type" in cols:
                checks.append((TYPE_NAMES[lang].get(it.type, it.type), f"document {it.doc_id}: its type"))
            if "language" in cols:
                checks.append((language_name(it.lang, lang), f"document {it.doc_id}: its language"))
            if "date" in cols:
                checks.append((it.date, f"document {it.doc_id}: its date"))
        if u.declaration:
            checks.append((u.declaration, f"document {it.doc_id}: the translator's declaration"))
    ctx.fonts = fonts_for(*(text for text, _what in checks))
    for text, what in checks:
        bad = ctx.fonts.unsupported(text)
        if bad is not None:
            raise AssembleError(f"{what} has characters the packet font cannot show ({describe_char(bad)});"
                                " write it in Latin, Greek or Cyrillic script")


def build(request: PacketRequest, *, headroom: int | None = None) -> list[Volume]:
    """Render each item (and redact it through ``request.redact``, if set), then
    :func:`assemble` the pages: the whole pipeline from items to volumes in one call,
    for callers with no redaction stage of their own (packets.build runs the stages
    itself). Raises like :func:`assemble` and :func:`~packets.render.render_item`."""
    ctx = _prepare(request)
    pages = []
    for item in request.items:
        rendered = render_item(item, request.profile)
        ctx.keep.append(rendered)
        if request.redact is not None:
            rendered = redact_rendered(request.redact, item, rendered, request.profile)
        pages.append(rendered)
    return _assemble(ctx, pages, headroom)


def assemble(request: PacketRequest, pages: list[Rendered], *, headroom: int | None = None) -> list[Volume]:
    """Assemble the packet described by ``request`` from its documents' pages, already
    rendered and redacted (``pages[i]`` are the pages of ``request.items[i]``), into one
    or more volumes.

    Every page of every volume is numbered consecutively (``Volume.first_page`` to
    ``Volume.last_page``); volume 1 holds the cover letter and the full index. When the
    profile sets ``volumes.max_bytes``, the packet is split at document boundaries so that
    each file is at most ``max_bytes - headroom`` bytes; ``headroom`` (bytes kept for
    the signature appended later) defaults, when the profile requires a signature, to
    :data:`SIGNATURE_HEADROOM` or half of ``max_bytes`` if that is less, else to 0.

    Raises:
        AssembleError: a bad request, a document that alone exceeds the size limit, a
            packet over a limit it may not split, or text the packet fonts cannot show;
            one line naming the document id, never its title.
    """
    ctx = _prepare(request)
    if len(pages) != len(request.items):
        raise AssembleError(f"{len(pages)} rendered documents for {len(request.items)} items; render each item once")
    return _assemble(ctx, pages, headroom)


def _assemble(ctx: _Ctx, pages: list[Rendered], headroom: int | None) -> list[Volume]:
    from ._shape import shape

    _plan_units(ctx, pages)
    ctx.keep.extend(pages)
    return shape(ctx, headroom)  # the output shape, each file under the limit, images fitted first


def split_volumes(ctx: _Ctx, limit: int, fitted=None) -> list[Volume]:
    """Split the packet at document boundaries into volumes of at most ``limit`` bytes;
    ``fitted`` (a packets._fit.Step) is how far the documents' images were fitted, for the
    error naming a document that alone is over the limit (hint ``packet-too-big``)."""
    profile = ctx.profile
    volumes = _build_volumes(ctx, [1] * len(ctx.units))
    for u in ctx.units:
        u.size_estimate = _estimate(u)
    # What volume 1 holds besides the documents (cover, index, fonts), as measured.
    overhead = {1: max(0, len(volumes[0].data) - sum(u.size_estimate or 0 for u in ctx.units))}
    for _ in range(_MAX_SPLIT_PASSES):
        volume_of = _assign(ctx, limit, overhead, fitted)
        volumes = _build_volumes(ctx, volume_of)
        over = [v for v in volumes if len(v.data) > limit]
        if not over:
            return volumes
        for v in volumes:
            est = sum(u.size_estimate or 0 for u in ctx.units if volume_of[u.index] == v.number)
            actual = len(v.data) - est
            slack = max(1024, limit // 200)
            if len(v.data) > limit:
                overhead[v.number] = max(overhead.get(v.number, 0), actual) + slack
            if v.number == 1 and not v.items and len(v.data) > limit:
                raise AssembleError(f"the cover letter and index alone are {len(v.data)} bytes, over the {limit}-byte"
                                    f" limit of {profile.id}; raise volumes.max_bytes")
            if len(v.items) == 1 and len(v.data) > limit and v.number != 1:
                u = next(u for u in ctx.units if u.item.doc_id == v.items[0])
                raise _too_big(ctx, u, len(v.data), limit, fitted)
    raise AssembleError(f"could not split the packet into volumes under {limit} bytes; reduce the largest documents")
