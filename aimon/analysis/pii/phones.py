"""Phone numbers: validated with libphonenumber (``phonenumbers``) for the countries a
candidate can belong to.

Which countries: a ``+`` country code says it; otherwise the regions *placing* the
request (its ``jurisdiction`` column and ``[pii] phone_regions`` of aimon.toml, given
by the scan as ``regions``), the words around the number (a French, German, Spanish,
Japanese... phone word or a country or city name), and, after a phone word, a default
list of common countries.

Two confidences. A number valid in the numbering plan of one of those countries is a
phone number (reason NULL). A number that is only *well formed* (a possible length and
the country's general number shape, e.g. ``(392) 555-0183`` on an area code the plan
has not assigned) is still someone typing a phone number when a phone word stands
before it: in a privacy audit it is personal data, reported validated with the reason
:data:`LOW_CONFIDENCE` instead of being dropped.

Precision: a national number with no phone word counts only when a placing region
validates it *and* it is grouped as that country writes it (``020 7946 0958``, not
``0207 946 0958``); order, invoice, ticket and tracking numbers (an id word before
the number), dates, times and placeholders are not phone numbers at any confidence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from aimon.analysis.pii.validators import (
    Verdict,
    _card,
    _glued_after,
    _glued_before,
    _low_variety,
    _no,
    _yes,
    phonenumbers,
    us_ssn,
)

# The reason a validated phone finding carries when it is well formed but not in the
# numbering plan: confidence "low" in reports (NULL reason: "high").
LOW_CONFIDENCE = "not_in_numbering_plan"


# Regions tried for national numbers (no +country code) that follow a phone word.
NATIONAL_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR", "ES", "IT", "NL", "CA", "AU", "IE", "MX", "JP", "CH", "AT",
                    "BE")


# Phone words, in RE2 syntax for the candidate pattern (entities.py) and in Python for
# the checks here. RE2's \b is ASCII-only and Python's re.ASCII folds only ASCII case,
# so accented letters are spelled out in both cases; CJK words need no boundary.
PHONE_WORDS = (
    r"(?i:\b(?:phone|tel|telephone|call|mobile|cell|cellphone|sms|whatsapp|fax|text me|reach me|my number"
    r"|t[eéÉ]l[eéÉ]phone|t[eéÉ]l|portable|appel(?:ez|le|er)?(?:[- ]moi)?|joindre"
    r"|telefon(?:nummer)?|handy|mobil(?:nummer)?|anrufen|ruf mich an|rufnummer|erreichbar"
    r"|tel[eéÉ]fono|m[oóÓ]vil|celular|ll[aáÁ]m(?:ame|e|ar|anos)"
    r"|chiamami|chiamare|cellulare|bel me|telefoon|mobiel)\b)"
    r"|電話(?:番号)?|携帯(?:電話)?|連絡先|ＴＥＬ"
)


# Words that place a number in a country (language of the phone word, country, capital).
_REGION_HINTS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(p, re.IGNORECASE), regions) for p, regions in (
        (r"t[ée]l[ée]phone|\btél\b|portable|appel|joindre|num[ée]ro|\bfrance\b|\bparis\b|\blyon\b",
         ("FR", "BE", "CH")),
        (r"telefon\b|telefonnummer|\bhandy\b|\bmobil\b|anruf|\bruf\b|rufnummer|erreichbar|deutschland|"
         r"\bberlin\b|\bm[üu]nchen\b|\bwien\b", ("DE", "AT", "CH")),
        (r"tel[ée]fono|m[óo]vil|celular|ll[áa]m|espa[ñn]a|\bmadrid\b|m[ée]xico", ("ES", "MX", "AR", "CO", "CL")),
        (r"chiam|cellulare|\bitalia\b|\broma\b|\bmilano\b|telefono", ("IT",)),
        (r"\bbel me\b|telefoon|mobiel|nederland|amsterdam", ("NL", "BE")),
        (r"電話|携帯|連絡先|日本|東京|大阪|\bjapan\b|\btokyo\b|\bosaka\b", ("JP",)),
        (r"\buk\b|\blondon\b|\bbritain\b|\bengland\b|\bmanchester\b", ("GB",)),
    ))


# An id word between the phone word and the number, or just before a bare one: the
# number is an order, invoice, ticket, customer... number.
_ID_WORD_RE = re.compile(
    r"(?i)(?:\b(?:order|invoice|ticket|case|ref|reference|id|tracking|sku|account|acct|customer|parcel|"
    r"booking|reservation|serial|inv|ord|commande|facture|colis|dossier|pedido|factura|referencia|"
    r"bestell\w*|rechnung\w*|kunden\w*|sendung\w*|auftrag\w*)\b|注文|請求|伝票)[^\d\n]{0,12}$")


_DATE_RE = re.compile(r"^(?:\d{1,2}[./ -]\d{1,2}[./ -](?:19|20)\d{2}|(?:19|20)\d{2}[./-]\d{1,2}[./-]\d{1,2})$")


_TIME_RANGE_RE = re.compile(r"\d{1,2}[.:]\d{2}\s*[-–〜~]\s*\d{1,2}[.:]\d{2}")


# 0.5 0.25 0.125: numbers with a decimal point, not a dotted phone number (0.12.34...).
_DECIMAL_RE = re.compile(r"(?:^|[\s(])0\.\d+(?:$|[\s)])")


_PHONE_TOKEN_RE = re.compile(r"[\d()]+")


_NUMBER_RE = re.compile(r"\+?[\d(][\d .()-]*\d")


@lru_cache(maxsize=4096)
def hinted_regions(context: str) -> tuple[str, ...]:
    """Regions the words in ``context`` point to (phone words of a language, places)."""
    out: list[str] = []
    for rx, regions in _REGION_HINTS:
        if rx.search(context):
            out.extend(r for r in regions if r not in out)
    return tuple(out)


def _merge(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for g in groups for r in g))


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """``text`` as a number of ``region``; None when it cannot be one as written: a
    country whose national numbers start with a trunk 0 (GB, FR, DE, JP...) is not
    tried for a number written without it (123-456-7890 is no London number), and 00
    is the international prefix, not a national number."""
    digits = re.sub(r"\D", "", text)
    if region is not None and not text.startswith("+"):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if digits.startswith("00") or (metadata and metadata.national_prefix == "0" and not digits.startswith("0")):
            return None
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _glued(before: str, after: str) -> tuple[bool, bool]:
    """Glued to a longer ASCII token on either side (CJK text runs on without spaces:
    電話番号は03-3211-4567です is not glued)."""
    return (bool(before) and before[-1].isascii() and _glued_before(before),
            bool(after) and after[0].isascii() and _glued_after(after))


def _shape_ok(number: phonenumbers.PhoneNumber, *, min_digits: int = 7) -> bool:
    """A possible length for its country and the country's general number shape: how a
    phone number of that country looks, whether or not its range is allocated."""
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return False
    region = phonenumbers.region_code_for_country_code(number.country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region) if region not in (None, "ZZ") else None
    pattern = metadata.general_desc.national_number_pattern if metadata and metadata.general_desc else None
    nsn = phonenumbers.national_significant_number(number)
    return (bool(pattern) and len(nsn) >= min_digits and not _low_variety(nsn, 3)
            and re.fullmatch(pattern, nsn) is not None)


def _phone_ok(text: str, region: str | None, lenient: bool) -> bool:
    number = _parse(text, region)
    if number is None:
        return False
    if phonenumbers.is_valid_number(number):
        return True
    # An explicit +country code, a possible length and the country's general number
    # shape make a phone number as a person writes it, even in ranges the numbering plan
    # keeps unallocated (+44 7700 900xxx is reserved for fiction, but typed as a phone).
    return lenient and phonenumbers.is_possible_number(number) and _shape_ok(number)


def _nanp_shape(text: str) -> bool:
    """NXX-NXX-XXXX: a US/Canadian number by its structure alone."""
    digits = re.sub(r"\D", "", text)
    digits = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789" and digits[1:3] != "11"


def _well_formed(text: str, placed: tuple[str, ...]) -> bool:
    """Not in the plan of any region tried, but shaped as a number of one of them: a
    NANP number, or a number of a placing region (the default list too for a number
    with a trunk prefix, which few countries' numbers are without)."""
    regions = _merge(placed, NATIONAL_REGIONS)
    if text.startswith("+"):
        return False  # +CC numbers were judged leniently already
    if not text.lstrip("(").startswith("0"):
        if _nanp_shape(text) and (number := _parse(text, "US")) is not None and _shape_ok(number):
            return True
        regions = tuple(r for r in placed if r not in ("US", "CA"))
    return any((number := _parse(text, r)) is not None and _shape_ok(number, min_digits=8) for r in regions)


def _groups(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def _as_written(text: str, region: str) -> bool:
    """Valid in ``region`` and grouped as that country writes its numbers (ES
    ``930 92 78 67``, IT ``345 107 4797``): the grouping stands in for a country code."""
    number = _parse(text, region)
    return (number is not None and phonenumbers.is_valid_number(number)
            and _groups(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)) == _groups(text))


def _tried(national: bool, regions: tuple[str, ...]) -> tuple[str, ...]:
    """Where a number without a country code is looked for: a trunk-prefixed one in the
    request's regions, then the default list; any other in the US, then the regions."""
    return _merge(regions, NATIONAL_REGIONS) if national else _merge(("US",), regions)


def e164(text: str, regions: tuple[str, ...] = ()) -> str | None:
    """The number in E.164, placed as the detector places it: a trunk-prefixed national
    number (020 7946 0958) in the request's regions, then the default list; any other in
    the US, then the request's regions. None when no region makes it a valid number."""
    tried = (None,) if text.startswith("+") else _tried(text.lstrip("(").startswith("0"), regions)
    for region in tried:
        number = _parse(text, region)
        if number is not None and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _phone_prefixes(value: str) -> list[int]:
    """End offsets of ``value`` cut after each digit group, longest first."""
    ends = [m.end() for m in _PHONE_TOKEN_RE.finditer(value)]
    return sorted({e for e in ends if sum(c.isdigit() for c in value[:e]) >= 7}, reverse=True)


def _phone(value: str, before: str, after: str, *, national: bool,
           regions: tuple[str, ...] = (), as_written: bool = False) -> list[Verdict]:
    """A phone number at the start of ``value``, trimmed of trailing groups that do not
    belong to it (``+1 212 555 0123 2 items`` -> ``+1 212 555 0123``). ``national``: a
    trunk-prefixed number, tried in ``regions`` and the default list; else a number
    tried in the US and ``regions`` and, with ``as_written`` (after a phone word), in
    the default list when grouped as that country writes it and not shaped as a NANP
    number (whose 3-3-4 grouping other plans share: it stays a US number)."""
    if _glued(before, "")[0] and not before.endswith((" ", "(", ":")):
        return _no("phone", "part_of_longer_token")
    international = value.startswith("+")
    tried = _tried(national, regions)
    for end in _phone_prefixes(value):
        text = value[:end].rstrip("( ")
        if text.count("(") != text.count(")"):
            continue
        if international:
            if _phone_ok(text, None, lenient=True):
                return _yes("phone", 0, len(text))
        elif (any(_phone_ok(text, region, lenient=False) for region in tried)
              or (as_written and not national and not _nanp_shape(text)
                  and any(_as_written(text, region) for region in NATIONAL_REGIONS))):
            if not national and end == len(value) and _glued("", after)[1]:
                return _no("phone", "part_of_longer_token")
            return _yes("phone", 0, len(text))
    return _no("phone", "invalid_number")


def phone_international(value: str, before: str, after: str) -> list[Verdict]:
    return _phone(value, before, after, national=False)


def phone_us(value: str, before: str, after: str, regions: tuple[str, ...] = ()) -> list[Verdict]:
    if before.endswith("+"):
        return _no("phone", "part_of_longer_token")
    # No US number starts with 0 or 1 (NANP area codes): 020 794 6095 (NL), or
    # 318 689 3380 in an Italian request, may be a number of a placing region.
    if regions or value.lstrip("(").startswith("0"):
        home = phone_national(value, before, after, regions)
        if home:
            return home
    # "212 555 0123" without a phone word, brackets or +1 is as often a count or an
    # amount ("809 508 4456 tokens"); the context form (call/phone/tel ...) finds it.
    seps = re.findall(r"\d([ .-])\d", value)
    if "(" not in value and seps and set(seps) == {" "}:
        return _no("phone", "ambiguous_spaces")
    return _phone(value, before, after, national=False)


def _not_a_phone(number: str, ctx: str) -> str | None:
    """Why a number after a phone word is something else: an id, a date, a time."""
    if _ID_WORD_RE.search(ctx):
        return "identifier"
    if _DATE_RE.match(number.strip()):
        return "date"
    if _TIME_RANGE_RE.search(number):
        return "time"
    if _DECIMAL_RE.search(number):
        return "decimal"
    return None


def _shifted(verdicts: list[Verdict], offset: int, length: int) -> list[Verdict]:
    return [Verdict(v.entity_type, v.ok, v.reason, offset + v.start, offset + (length if v.end is None else v.end))
            for v in verdicts]


def phone_in_context(value: str, before: str, after: str, regions: tuple[str, ...] = ()) -> list[Verdict]:
    """A number written after a phone word: any format, national ones included. When it
    is not a phone number it may still be a card or an SSN written after the word; when
    it is only well formed, it is a phone number of low confidence."""
    m = _NUMBER_RE.search(value)
    if not m:
        return _no("phone", "invalid_number")
    number, ctx = m.group(0), value[:m.start()]
    if re.search(r"[.!?;]\s+[A-Za-z]{2,}", ctx):
        return _no("phone", "no_context", m.start(), m.end())  # the phone word is in another sentence
    why_not = _not_a_phone(number, ctx)
    if why_not:
        return _no("phone", why_not, m.start(), m.end())
    placed = _merge(regions, hinted_regions(before + ctx))
    national = number.lstrip("(").startswith("0")  # trunk prefix: UK, DE, FR, JP... formats
    verdicts = _phone(number, ctx, after, national=national, regions=placed, as_written=True)
    if verdicts[0].ok:
        return _shifted(verdicts[:1], m.start(), len(number))
    if re.fullmatch(r"\d{3}([- ])\d{2}\1\d{4}", number):
        return _shifted(us_ssn(number, ctx, after), m.start(), len(number))
    if _card(number) is None:
        return _yes("credit_card", m.start(), m.end())
    if verdicts[0].reason == "invalid_number":
        for end in _phone_prefixes(number):
            text = number[:end].rstrip("( ")
            if text.count("(") == text.count(")") and _well_formed(text, placed):
                return [Verdict("phone", True, LOW_CONFIDENCE, m.start(), m.start() + len(text))]
    return _no("phone", verdicts[0].reason or "invalid_number", m.start(), m.end())




def phone_national(value: str, before: str, after: str, regions: tuple[str, ...] = ()) -> list[Verdict]:
    """A national number (trunk prefix, no phone word) such as ``020 7946 0958``: a
    phone number when a region placing the request or named by the words before it
    validates it and it is grouped as that country writes its numbers. Anything else is
    no candidate at all (dates, amounts and ids in this shape are everywhere)."""
    if (before and before[-1].isascii() and (before[-1].isalnum() or before[-1] in "+_.-/")) or _glued("", after)[1]:
        return []
    if _not_a_phone(value, before[-24:]) or len(re.sub(r"\D", "", value)) < 8:
        return []
    if any(_as_written(value, region) for region in _merge(regions, hinted_regions(before))):
        return _yes("phone")
    return []
