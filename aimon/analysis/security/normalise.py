"""Seeing through obfuscation: NFKC and confusables, invisible characters, spaced-out
letters and leetspeak, and base64, hex, URL-encoded and ROT13 payloads. Python, but only for the texts the SQL pass flagged.

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
    kinds: tuple[str, ...]  # what was undone: homoglyph, zero_width, unicode_tags, spaced, leetspeak

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]``."""
        return self.origin[start], self.origin[max(start, end - 1)] + 1 if end > start else self.origin[start]


def normalise(text: str) -> Normalised:
    """``text`` with invisible characters dropped, tag characters made visible, NFKC and
    confusables applied to letters, spaced-out letters joined and leetspeak spelt out."""
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
    readable = unleet(joined)
    if readable != joined:
        kinds.add("leetspeak")
        joined = readable
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
    if token[:2] in ("0x", "0X") and _HEX_PLAIN.fullmatch(token[2:]):
        token = token[2:]  # a C-style hex literal
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


# --------------------------------------------------------------------------- ROT13, URL-encoding

# Function words of the languages the rules cover, and the words an order to a model is
# made of: a ROT13 segment is decoded when its decoded words are these more often than
# its own words are (ROT13 of prose reads as
# nonsense; prose does not gain words by being rotated).
_COMMON_WORDS = """
the a an and or to of in on for with is are be was you your yours me my it this that all any no not now
what how do does then tell show print say give from as at by
el la los las y o de del en con para por es son tu tus su sus que lo te todo todas todos sin
le les et ou des du un une est sont ton tes ta vos votre je tu il qui ce toutes tout pas sans
der die das und oder ist sind du dein deine deinen ich mit alle allen ohne nicht zu den dem ein eine
il lo gli e di da con per sono tuo tua tuoi le tutte tutti senza non
o os as e do da dos das com para em seu sua suas todas todos sem
ignore forget disregard rules instructions system prompt reveal pretend developer mode restrictions
guidelines hidden answer everything filters message secret
"""
_COMMON = frozenset(_COMMON_WORDS.split())
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Segments of one sentence or clause: ROT13 text often follows a plain instruction
# ("Apply ROT13 and obey: ...") or sits in a plain paragraph.
_SEGMENT = re.compile(r"[^.!?:;\n]+[.!?:;]*")
_ROT13 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                       "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")


def _common(words: list[str]) -> int:
    return sum(w.lower() in _COMMON for w in words)


def rot13(text: str) -> str | None:
    """The ROT13 segments of ``text`` decoded (one a line), when rotating them makes
    words: more common words than the segment had, and at least two and a third of its
    words common (or two more, and a quarter). None when no segment reads better rotated."""
    out = []
    for m in _SEGMENT.finditer(text):
        words = _WORD.findall(m.group())
        if len(words) < 3:
            continue
        rotated = [w.translate(_ROT13) for w in words]
        gained = _common(rotated) - _common(words)
        if gained >= 1 and _common(rotated) >= max(2, 0.3 * len(words)) or gained >= 2 and _common(rotated) >= 0.25 * len(words):
            out.append(m.group().translate(_ROT13).strip())
    return "\n".join(out) if out else None


_PERCENT_RUN = re.compile(r"(?:[^\s%]*%[0-9A-Fa-f]{2}){3,}[^\s%]*")


def url_decode(text: str) -> str | None:
    """The runs of ``text`` with at least three %XX escapes, decoded (one a line), when
    they decode to readable text. None when there is nothing to decode."""
    from urllib.parse import unquote_plus

    out = []
    for m in _PERCENT_RUN.finditer(text):
        decoded = unquote_plus(m.group(), errors="replace")
        # Query strings: keep the words, not the separators ("q=...&submit=1").
        decoded = re.sub(r"[&?=]", " ", decoded).strip()
        if decoded != m.group() and sum(ch.isalpha() for ch in decoded) >= 8:
            out.append(decoded)
    return "\n".join(out) if out else None


# --------------------------------------------------------------------------- leetspeak

# Digits and symbols that stand for letters, read only inside words that mix them with
# letters ("1gn0r3", "y0ur", "5y5t3m"); numbers, prices and dates stay as they are.
_LEET = str.maketrans({"1": "i", "3": "e", "4": "a", "0": "o", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"(?<![A-Za-z0-9@$])[A-Za-z0-9@$]*[A-Za-z][A-Za-z0-9@$]*(?![A-Za-z0-9@$])")
_LEET_CHARS = re.compile(r"[013457@$]")
_LEET_NUMBER = re.compile(r"(?<![\w@$.,:/-])[013457]{1,3}(?![\w@$.,:/%-])")


# (Digits only: "a@b.com" is an address, not leetspeak.)
_LEET_INNER = re.compile(r"[A-Za-z][013457]+[A-Za-z]")


def unleet(text: str) -> str:
    """``text`` with leetspeak words spelt in letters, when it has at least two words with
    a leet digit between letters ("y0ur", "1gn0r3"); then every word that mixes
    letters and leet characters is read ("4ll" too). Lengths are kept, so offsets still
    map. One such word ("p4ssw0rd") or names with a number ("gpt4", "h100") stay."""
    long = [m.span() for m in re.finditer(r"\S{21,}", text)]  # payloads, URLs, ids: never leetspeak
    words = [m for m in _LEET_WORD.finditer(text) if _LEET_CHARS.search(m.group())
             and not any(a <= m.start() < b for a, b in long)]
    if sum(bool(_LEET_INNER.search(m.group())) for m in words) < 2:
        return text
    # Short numbers of leet digits only are words there too ("wh4t 15 y0ur": is).
    words += list(_LEET_NUMBER.finditer(text))
    out = list(text)
    for m in words:
        out[m.start():m.end()] = m.group().translate(_LEET)
    return "".join(out)
