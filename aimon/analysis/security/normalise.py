"""Seeing through obfuscation: NFKC and confusables, invisible characters, spaced-out
letters, and base64/hex payloads. Python, but only for the texts the SQL pass flagged.

Homoglyphs come from the Unicode Consortium's confusables data (UTS #39) as shipped by
the ``confusable-homoglyphs`` package: each character that is confusable with a single
ASCII letter maps to it (Cyrillic "а" to "a", Greek "Ι" to "I"), after NFKC has folded
fullwidth and mathematical letters.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

# Invisible characters an attacker threads between letters (zero-width space, joiners,
# word joiner, invisible operators, BOM, soft hyphen, Mongolian vowel separator).
_INVISIBLE = frozenset([*range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF, 0x00AD, 0x180E,
                        *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_TAGS = range(0xE0000, 0xE0080)  # Unicode tag characters: invisible copies of ASCII
# Spaced-out letters: single characters separated by spaces ("i g n o r e   a l l",
# words apart by two or more), or joined by one separator ("i.g.n.o.r.e", "s-y-s-t-e-m").
_SPACED_RUN = re.compile(r"(?<!\S)\S(?: {1,3}\S(?!\S)){3,}")
_SEPARATED = re.compile(r"(?<!\S)[.\-_*|]*(?:[^\s.\-_*|][.\-_*|]){1,}[^\s.\-_*|][.\-_*|]*(?!\S)")


@cache
def confusables() -> dict[str, str]:
    """Non-ASCII character -> the ASCII letter it is confusable with."""
    from confusable_homoglyphs import confusables as data

    table: dict[str, str] = {}
    for char, entries in data.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        letters = sorted(e["c"] for e in entries if len(e["c"]) == 1 and e["c"].isascii() and e["c"].isalpha())
        if letters:
            # UTS #39 writes the class of l, I, 1 and | as "l": an upper-case member
            # ("І", "Ι") is an I in a word.
            same = [c for c in letters if c.isupper() == char.isupper()]
            table[char] = "I" if letters == ["l"] and char.isupper() else (same or letters)[0]
    return table


@dataclass(frozen=True)
class Normalised:
    text: str
    # Position in the original text of each character of ``text`` (and one past the end).
    origin: tuple[int, ...]
    kinds: tuple[str, ...]  # what was undone: homoglyph, zero_width, unicode_tags, spaced

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]``."""
        return self.origin[start], self.origin[max(start, end - 1)] + 1 if end > start else self.origin[start]


def normalise(text: str) -> Normalised:
    """``text`` with invisible characters dropped, tag characters made visible, NFKC and
    confusables applied to letters, and spaced-out letters joined."""
    table = confusables()
    out: list[str] = []
    origin: list[int] = []
    kinds: set[str] = set()
    for i, ch in enumerate(text):
        cp = ord(ch)
        if cp in _INVISIBLE:
            kinds.add("zero_width")
            continue
        if cp in _TAGS:
            kinds.add("unicode_tags")
            if 0xE0020 <= cp <= 0xE007E:
                out.append(chr(cp - 0xE0000))
                origin.append(i)
            continue
        folded = ch if ch.isascii() else unicodedata.normalize("NFKC", ch)
        if folded != ch and folded.isascii():
            kinds.add("homoglyph")
        elif not ch.isascii() and ch in table and ch.isalpha():
            folded = table[ch]
            kinds.add("homoglyph")
        for piece in folded:
            out.append(piece)
            origin.append(i)
    joined = "".join(out)
    keep = _unspaced(joined)
    if not all(keep):
        kinds.add("spaced")
        joined = "".join(c for c, k in zip(joined, keep, strict=True) if k)
        origin = [o for o, k in zip(origin, keep, strict=True) if k]
    origin.append(len(text))
    return Normalised(joined, tuple(origin), tuple(sorted(kinds)))


def _unspaced(text: str) -> list[bool]:
    """Which characters to keep so that spaced-out letters read as words."""
    keep = [True] * len(text)
    for m in _SPACED_RUN.finditer(text):
        i = m.start()
        while i < m.end():
            if text[i] == " ":
                j = i
                while j < m.end() and text[j] == " ":
                    j += 1
                for k in range(i + (1 if j - i >= 2 else 0), j):  # a word gap keeps one space
                    keep[k] = False
                i = j
            else:
                i += 1
    for m in _SEPARATED.finditer(text):
        for k in range(m.start(), m.end()):
            if text[k] in ".-_*|" and keep[k]:
                keep[k] = False
    return keep


# --------------------------------------------------------------------------- decoding

_HEX_ESCAPED = re.compile(r"(?:\\x[0-9A-Fa-f]{2})+")
_HEX_SPACED = re.compile(r"[0-9A-Fa-f]{2}(?:[ :][0-9A-Fa-f]{2})+")
_HEX_PLAIN = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_B64 = re.compile(r"[A-Za-z0-9+/_-]+=*")


def decode(token: str) -> tuple[str, str] | None:
    """(decoded text, how) when ``token`` is hex or base64 of readable UTF-8 text."""
    token = token.strip()
    candidates: list[tuple[bytes, str]] = []
    if _HEX_ESCAPED.fullmatch(token):
        candidates.append((bytes.fromhex(token.replace("\\x", "")), "hex"))
    elif _HEX_SPACED.fullmatch(token):
        candidates.append((bytes.fromhex(re.sub("[ :]", "", token)), "hex"))
    elif _HEX_PLAIN.fullmatch(token) and len(token) % 2 == 0:
        candidates.append((bytes.fromhex(token), "hex"))
    if _B64.fullmatch(token):
        body = token.rstrip("=")
        padded = body + "=" * (-len(body) % 4)
        for alphabet in ((b"+/", "base64"), (b"-_", "base64")):
            try:
                candidates.append((base64.b64decode(padded, altchars=alphabet[0], validate=True), alphabet[1]))
            except (binascii.Error, ValueError):
                continue
    for raw, how in candidates:
        text = readable(raw)
        if text is not None:
            return text, how
    return None


def readable(raw: bytes) -> str | None:
    """``raw`` as text when it is UTF-8 that reads as words, not binary that happens to decode."""
    if len(raw) < 8:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch in "\n\t\r" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    if printable < 0.95 * len(text) or letters < 0.5 * len(text.replace(" ", "")):
        return None
    if len(text) >= 16 and (_B64.fullmatch(text) or _HEX_PLAIN.fullmatch(text)):
        return text  # encoded again: decoded on the next layer
    # Scripts without spaces (Chinese, Japanese) read as one long word; others need words.
    if " " not in text.strip() and not any(unicodedata.east_asian_width(ch) == "W" for ch in text):
        return None
    return text
