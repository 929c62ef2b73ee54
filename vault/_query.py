"""The query language of search (vault/search.py): words folded, stemmed and quoted for FTS5.

See vault/search.py's docstring for what a query matches.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidInput

__all__ = ["expression", "filters", "fold", "parse_query", "query_terms", "stem"]

# Endings stripped from a folded query word, longest first. Plural endings go from
# words of five letters or more, leaving at least four; gender, participle and
# other endings only from words of six letters or more, leaving at least five, so
# that short words and names as typed ("Maria", "Gonza") stay whole.
_PLURAL = ("ies", "es", "s")
_OTHER = ("ing", "ees", "ed", "ee", "os", "as", "o", "a", "e", "y")
_SUFFIXES = tuple(sorted([(x, 5, 4) for x in _PLURAL] + [(x, 6, 5) for x in _OTHER], key=lambda t: -len(t[0])))

_WORD = re.compile(r"[^\W_]+")
_QUOTED = re.compile(r'"([^"]*)"?')


def fold(text: str) -> str:
    """Lower case without accents, as the index compares words ("Pérez" -> "perez")."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def stem(word: str) -> str:
    """The query-time stem of a folded word: one common inflection removed (see _SUFFIXES)."""
    for suffix, min_word, min_stem in _SUFFIXES:
        if len(word) >= min_word and word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
            return word[: -len(suffix)]
    return word


def parse_query(query: str) -> str:
    """The FTS5 expression for a user's query; every word is a quoted string.

    A word of three letters or more is stemmed and matches as a prefix; a
    shorter one matches only itself. In a "quoted phrase" the words match as
    written, in order (``+``), and only the last one as a prefix.

    Raises:
        InvalidInput: the query has no words once punctuation is removed.
    """
    return expression(query_terms(query))


def query_terms(query: str) -> list[list[tuple[str, bool]]]:
    """The parts of a query that must all match: each a phrase of (folded word, matches as a prefix).

    A plain word is a phrase of one word. Raises InvalidInput as ``parse_query``.
    """
    if not isinstance(query, str):
        raise InvalidInput("search query must be text")
    parts: list[list[tuple[str, bool]]] = []
    pos = 0
    for m in _QUOTED.finditer(query):
        parts.extend([_term(w)] for w in _WORD.findall(fold(query[pos:m.start()])))
        words = _WORD.findall(fold(m.group(1)))
        if len(words) == 1:
            parts.append([_term(words[0])])
        elif words:
            parts.append([*((w, False) for w in words[:-1]), (words[-1], len(words[-1]) > 2)])
        pos = m.end()
    parts.extend([_term(w)] for w in _WORD.findall(fold(query[pos:])))
    if not parts:
        raise InvalidInput("search query has no words")
    return parts


def expression(parts: list[list[tuple[str, bool]]]) -> str:
    """The FTS5 expression of ``query_terms``: phrases joined by AND, words quoted, prefixes starred."""
    # _WORD leaves only letters and digits: no quote can be inside a word
    phrases = [" + ".join(f'"{w}"*' if prefix else f'"{w}"' for w, prefix in phrase) for phrase in parts]
    return " AND ".join(p if len(phrase) == 1 else f"({p})" for p, phrase in zip(phrases, parts))


def _term(word: str) -> tuple[str, bool]:
    return (stem(word), True) if len(word) > 2 else (word, False)


def filters(types, tags, person) -> tuple[str, list]:
    """The SQL conditions on ``docs d`` for the filters, and their arguments."""
    where, args = [], []
    if types:
        types = _list(types)
        where.append(f"d.type IN ({','.join('?' * len(types))})")
        args.extend(fold(str(t)) for t in types)
    for tag in _list(tags or []):
        where.append("instr(d.tags, ?) > 0")
        args.append("\x1f" + fold(str(tag)) + "\x1f")
    if person:
        where.append("instr(d.person, ?) > 0")
        args.append(fold(str(person)))
    return "".join(" AND " + w for w in where), args


def _list(value) -> list:
    return [value] if isinstance(value, str) else list(value)
