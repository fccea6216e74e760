"""Validators for PII candidates: checksums, ranges and context, run only on candidates.

The DuckDB pass (``aimon.analysis.pii.scan``) finds *candidates* with one vectorised regular
expression; each candidate then goes through the validator of the alternative that
matched it here, in Python. A validator sees the candidate text plus a little of the
text before and after it (RE2 has no look-behind, so boundary rules live here) and
returns :class:`Verdict` objects: the entity type, whether it is real, why not, and the
span inside the candidate that holds the entity (context words such as "DOB:" are part
of some candidates and are trimmed off here).

Look-alikes are rejected on purpose: order numbers, version strings, UUIDs, hashes,
timestamps and numbers that fail their checksum (Luhn, IBAN mod-97, SSN ranges, phone
numbering plans). Nothing here prints or stores a value.

Secrets (keys and tokens) are validated in :mod:`.secrets`, phone numbers in :mod:`.phones`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Verdict:
    """One judged entity inside a candidate: ``value[start:end]`` is the entity."""

    entity_type: str
    ok: bool
    reason: str | None = None
    start: int = 0
    end: int | None = None


Validator = Callable[[str, str, str], list[Verdict]]


class _OnFirstUse:
    """``phonenumbers``, imported when a number is first looked at: most commands mask a
    few ids and names that hold none, and its metadata costs about 0.015 s of start-up."""

    def __getattr__(self, name: str) -> Any:
        import phonenumbers as module

        return getattr(module, name)


phonenumbers = _OnFirstUse()


def _yes(entity: str, start: int = 0, end: int | None = None) -> list[Verdict]:
    return [Verdict(entity, True, None, start, end)]


def _no(entity: str, reason: str, start: int = 0, end: int | None = None) -> list[Verdict]:
    return [Verdict(entity, False, reason, start, end)]


def _glued_before(before: str) -> bool:
    """The candidate continues a longer token to its left (``x.1.2.3.4``, ``12-345...``)."""
    if not before:
        return False
    last = before[-1]
    if last.isalnum() or last == "_":
        return True
    return last in ".-/" and len(before) >= 2 and before[-2].isalnum()


def _glued_after(after: str) -> bool:
    if not after:
        return False
    first = after[0]
    if first.isalnum() or first == "_":
        return True
    return first in ".-/" and len(after) >= 2 and after[1].isdigit()


def _low_variety(s: str, minimum: int) -> bool:
    """Placeholders such as XXXXXXXX or 000000 have few distinct characters."""
    return len(set(s)) < minimum or re.search(r"(.)\1{5,}", s) is not None


_FILE_EXTENSIONS = frozenset(
    ["png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "avif", "heic", "js", "mjs", "cjs", "ts", "tsx", "jsx", "css", "scss", "json", "yaml", "yml", "toml", "xml", "html", "htm", "txt", "csv", "log", "pdf", "zip", "gz", "tgz", "tar", "exe", "dll", "dylib", "bin", "wasm", "map", "lock", "ini", "cfg"])


_LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


def email(value: str, before: str, after: str) -> list[Verdict]:
    local, _, domain = value.rpartition("@")
    if not local or len(local) > 64 or local.startswith(".") or local.endswith(".") or ".." in local:
        return _no("email", "malformed_local_part")
    if after.startswith("@") or "@" in local:
        return _no("email", "malformed")
    labels = domain.split(".")
    if len(domain) > 253 or any(not _LABEL_RE.match(lab) or len(lab) > 63 for lab in labels):
        return _no("email", "malformed_domain")
    tld = labels[-1].lower()
    if not (tld.isalpha() and 2 <= len(tld) <= 24) and not tld.startswith("xn--"):
        return _no("email", "not_a_domain")  # pkg@1.2.3, user@host.123
    if tld in _FILE_EXTENSIONS or re.fullmatch(r"\d+(?:\.\d+)?x", labels[0].lower()):
        return _no("email", "file_name")  # icon@2x.png
    if local.lower() == "git" and after.startswith(":"):
        return _no("email", "ssh_remote")  # git@github.com:org/repo
    return _yes("email")


_SSN_FAMOUS = frozenset({"078051120", "219099999", "123456789", "987654320"})


def _ssn_digits_ok(digits: str) -> str | None:
    """None when the nine digits can be an SSN, else the reason they cannot."""
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9":
        return "ssn_area"
    if group == "00":
        return "ssn_group"
    if serial == "0000":
        return "ssn_serial"
    if digits in _SSN_FAMOUS or len(set(digits)) == 1:
        return "ssn_known_fake"
    return None


def us_ssn(value: str, before: str, after: str) -> list[Verdict]:
    seps = {value[3], value[6]}
    if len(seps) != 1:
        return _no("us_ssn", "mixed_separators")
    if _glued_before(before) or _glued_after(after):
        return _no("us_ssn", "part_of_longer_token")
    reason = _ssn_digits_ok(value.replace(value[3], ""))
    return _no("us_ssn", reason) if reason else _yes("us_ssn")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The card network a number belongs to by its prefix and length, or None."""
    n = len(digits)
    p2, p3, p4, p6 = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= p3 <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    return None


def _card(value: str) -> str | None:
    """None when ``value`` is a payment card number, else the reason it is not."""
    seps = {c for c in value if not c.isdigit()}
    if len(seps) > 1:
        return "mixed_separators"
    digits = "".join(c for c in value if c.isdigit())
    if len(set(digits)) == 1:
        return "placeholder"
    if card_brand(digits) is None:
        return "unknown_card_prefix"
    if not luhn_ok(digits):
        return "luhn"
    return None


def credit_card(value: str, before: str, after: str) -> list[Verdict]:
    if _glued_before(before):
        return _no("credit_card", "part_of_longer_token")
    reason = _card(value)
    if reason is None:
        if _glued_after(after):
            return _no("credit_card", "part_of_longer_token")
        return _yes("credit_card")
    # 16 digits followed by a short group (an expiry or CVV) reach the 19-digit shape.
    groups = re.split(r"([ -])", value)
    if len(groups) > 2 and len(groups[-1]) == 3:
        head = "".join(groups[:-2])
        if _card(head) is None:
            return _yes("credit_card", 0, len(head))
    return _no("credit_card", reason)


_VERSION_WORD_RE = re.compile(r"(?i)(?:\bv|\bversion|\bver|\brelease|\bbuild|\bsdk|\brev|\bpatch)[\s:=#.]*$")


def ipv4(value: str, before: str, after: str) -> list[Verdict]:
    if _glued_before(before) or _glued_after(after):
        return _no("ipv4", "part_of_longer_token")  # 1.2.3.4.5, OIDs, v1.2.3.4
    if _VERSION_WORD_RE.search(before):
        return _no("ipv4", "version_string")
    try:
        ip = ipaddress.IPv4Address(value)
    except ValueError:
        return _no("ipv4", "invalid_address")
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        return _no("ipv4", "not_a_host_address")
    return _yes("ipv4")


def ipv6(value: str, before: str, after: str) -> list[Verdict]:
    if before and (before[-1].isalnum() or before[-1] in "_:"):
        return _no("ipv6", "part_of_longer_token")  # std::vector, Foo::Bar
    if after and (after[0].isalnum() or after[0] in "_:"):
        return _no("ipv6", "part_of_longer_token")
    groups = [g for g in value.split(":") if g]
    if len(groups) < 2 or sum(len(g) for g in groups) < 5:
        return _no("ipv6", "too_short")
    try:
        ip = ipaddress.IPv6Address(value)
    except ValueError:
        return _no("ipv6", "invalid_address")
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return _no("ipv6", "not_a_host_address")
    return _yes("ipv6")


IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def iban_checksum_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
    except ValueError:
        return False


def iban(value: str, before: str, after: str) -> list[Verdict]:
    verdicts = _iban(value, before, after)
    if value != value.upper() and not verdicts[0].ok:
        return []  # a lower-case word or hash, not a look-alike worth reporting
    return verdicts


def _iban(value: str, before: str, after: str) -> list[Verdict]:
    if _glued_before(before):
        return _no("iban", "part_of_longer_token")
    lowered = value != value.upper()  # ingest lower-cases error types; checked upper-cased
    value = value.upper()
    expected = IBAN_LENGTHS.get(value[:2])
    if expected is None:
        return _no("iban", "unknown_country")
    # Map positions in the compact form back to the written one (spaces allowed).
    positions = [i for i, c in enumerate(value) if c != " "]
    if len(positions) < expected:
        return _no("iban", "wrong_length")
    compact = "".join(value[i] for i in positions[:expected])
    if not compact[2:4].isdigit() or _low_variety(compact[4:], 4):
        return _no("iban", "malformed")
    if lowered and (len(positions) != expected or sum(c.isdigit() for c in compact[4:]) * 2 < len(compact) - 4):
        # lower-case words or a hash cut to a country's length, not a lower-cased account number
        return _no("iban", "malformed")
    if not iban_checksum_ok(compact):
        return _no("iban", "mod97")
    end = positions[expected - 1] + 1
    if end == len(value) and _glued_after(after):
        return _no("iban", "part_of_longer_token")
    return _yes("iban", 0, end)


_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}


_DATE_RES = [
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})\b"), "dmy_or_mdy"),
    (re.compile(r"(?i)\b(\d{1,2})(?:st|nd|rd|th)? ([a-z]{3})[a-z]*\.?,? (\d{4})\b"), "d_mon_y"),
    (re.compile(r"(?i)\b([a-z]{3})[a-z]*\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})\b"), "mon_d_y"),
]


def _plausible_birth(year: int, month: int, day: int, today: dt.date) -> bool:
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False
    return today.year - 120 <= year and born <= today


def _birth_date(text: str, today: dt.date) -> tuple[int, int] | None:
    """Span of the first plausible date of birth in ``text``."""
    for rx, kind in _DATE_RES:
        for m in rx.finditer(text):
            g = m.groups()
            if kind == "ymd":
                candidates = [(int(g[0]), int(g[1]), int(g[2]))]
            elif kind == "dmy_or_mdy":
                year = int(g[2])
                if len(g[2]) == 2:
                    year += 1900 if year > today.year % 100 else 2000
                candidates = [(year, int(g[1]), int(g[0])), (year, int(g[0]), int(g[1]))]
            elif kind == "d_mon_y":
                month = _MONTHS.get(g[1].lower())
                candidates = [(int(g[2]), month, int(g[0]))] if month else []
            else:
                month = _MONTHS.get(g[0].lower())
                candidates = [(int(g[2]), month, int(g[1]))] if month else []
            if any(_plausible_birth(y, mo, d, today) for y, mo, d in candidates):
                return m.start(), m.end()
    return None


_BIRTH_WORD_RE = re.compile(r"(?i)\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on| in)?|birthday)")


_EVENT_WORDS = frozenset(["party", "celebration", "dinner", "event", "card", "gift", "present", "cake", "reminder", "meeting", "trip", "lunch", "drinks", "sale", "plans"])


def date_of_birth(value: str, before: str, after: str) -> list[Verdict]:
    span = _birth_date(value, dt.date.today())
    if span is None:
        return _no("date_of_birth", "not_a_birth_date")
    word = _BIRTH_WORD_RE.match(value)
    gap = re.findall(r"[A-Za-z]+", value[word.end() if word else 0:span[0]])
    # "born in Lyon on 3 May 1985" is a birth date; "birthday party on May 3" is an event.
    if len(gap) > 3 or any(w.lower() in _EVENT_WORDS for w in gap):
        return _no("date_of_birth", "not_a_birth_date", *span)
    return _yes("date_of_birth", *span)


_ID_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*$")


def _id_after_context(value: str, entity: str, lengths: tuple[int, int], min_digits: int) -> list[Verdict]:
    m = _ID_TOKEN_RE.search(value)
    if not m:
        return _no(entity, "no_identifier")
    token = m.group(0)
    compact = token.replace("-", "")
    if not lengths[0] <= len(compact) <= lengths[1]:
        return _no(entity, "wrong_length", m.start())
    if sum(c.isdigit() for c in compact) < min_digits or _low_variety(compact, 2):
        return _no(entity, "not_an_identifier", m.start())
    return _yes(entity, m.start())


def passport(value: str, before: str, after: str) -> list[Verdict]:
    return _id_after_context(value, "passport", (6, 9), 1)


def drivers_license(value: str, before: str, after: str) -> list[Verdict]:
    return _id_after_context(value, "drivers_license", (5, 18), 4)


def ssn_in_context(value: str, before: str, after: str) -> list[Verdict]:
    m = re.search(r"\d{3}[- ]?\d{2}[- ]?\d{4}$", value)
    if not m:
        return _no("us_ssn", "malformed")
    raw = m.group(0)
    digits = re.sub(r"\D", "", raw)
    if re.search(r"[- ]", raw) and len({c for c in raw if not c.isdigit()}) > 1:
        return _no("us_ssn", "mixed_separators", m.start())
    reason = _ssn_digits_ok(digits)
    return _no("us_ssn", reason, m.start()) if reason else _yes("us_ssn", m.start())


def normalise(entity_type: str, value: str, regions: tuple[str, ...] = ()) -> str:
    """The canonical form hashed for pseudonyms, so ``Bob@X.com`` and ``bob@x.com``, or
    ``4111 1111 1111 1111`` and ``4111-1111-1111-1111``, get the same token. ``regions``
    place a national phone number (the request's jurisdiction, ``[pii] phone_regions``),
    so ``020 7946 0958`` in a UK request and ``+44 20 7946 0958`` are one number."""
    if entity_type == "email":
        return value.lower()
    if entity_type in ("credit_card", "us_ssn"):
        return re.sub(r"\D", "", value)
    if entity_type == "iban":
        return value.replace(" ", "").upper()
    if entity_type in ("ipv4", "ipv6"):
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            return value
    if entity_type == "phone":
        from aimon.analysis.pii.phones import e164

        return e164(value, regions) or re.sub(r"\D", "", value)
    if entity_type in ("passport", "drivers_license"):
        return value.replace("-", "").upper()
    return value
