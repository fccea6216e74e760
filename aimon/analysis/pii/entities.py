"""What a PII scan looks for: the text fields it covers, the entity types it reports
(PII or secret), and the candidate *kinds*: one RE2 pattern each, with the validator
that judges its candidates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from aimon.analysis.pii import phones as p
from aimon.analysis.pii import secrets as s
from aimon.analysis.pii import validators as v
from aimon.errors import UsageError

# Bump when a pattern or validator changes what is found: findings of older versions
# are then dropped and the texts scanned again.
DETECTOR_VERSION = 2


CONTEXT_BEFORE = 48


CONTEXT_AFTER = 16


class Field(StrEnum):
    """What a scan can cover, per request (fixed names, never user text in SQL): the
    text columns of ``requests``, its ids and ``extra`` JSON, and the request's feedback
    (``feedback_*``: every feedback row of the request, joined by newlines in time
    order, so that a finding's offsets point into one well-defined text)."""

    prompt = "prompt"
    response = "response"
    system_prompt = "system_prompt"
    error_message = "error_message"
    feedback = "feedback"
    extra = "extra"
    user_id = "user_id"
    session_id = "session_id"
    request_id = "request_id"
    endpoint = "endpoint"
    provider = "provider"
    model = "model"
    model_version = "model_version"
    prompt_version = "prompt_version"
    error_type = "error_type"
    experiment = "experiment"
    variant = "variant"
    user_tier = "user_tier"
    jurisdiction = "jurisdiction"
    feedback_text = "feedback_text"
    feedback_extra = "feedback_extra"
    feedback_user_id = "feedback_user_id"
    feedback_category = "feedback_category"


def _feedback_sql(expr: str) -> str:
    return (f"(SELECT string_agg({expr}, chr(10) ORDER BY b.ts, b.feedback_id) FROM feedback b "
            f"WHERE b.request_id = r.request_id AND {expr} IS NOT NULL)")


# Each field's text as SQL over ``requests r`` (the offsets of findings point into it).
FIELD_SQL: dict[Field, str] = {
    Field.prompt: "r.prompt",
    Field.response: "r.response",
    Field.system_prompt: "r.system_prompt",
    Field.error_message: "r.error_message",
    Field.feedback: "r.feedback",
    Field.extra: "r.extra::VARCHAR",
    **{f: f"r.{f.value}" for f in (Field.user_id, Field.session_id, Field.request_id, Field.endpoint,
                                   Field.provider, Field.model, Field.model_version, Field.prompt_version,
                                   Field.error_type, Field.experiment, Field.variant, Field.user_tier,
                                   Field.jurisdiction)},
    Field.feedback_text: _feedback_sql("b.feedback_text"),
    Field.feedback_extra: _feedback_sql("b.extra::VARCHAR"),
    Field.feedback_user_id: _feedback_sql("b.user_id"),
    Field.feedback_category: _feedback_sql("b.feedback_category"),
}


# Fields whose text can grow after a scan (feedback arrives later): rescanned then.
FEEDBACK_FIELDS: tuple[Field, ...] = (Field.feedback_text, Field.feedback_extra, Field.feedback_user_id,
                                      Field.feedback_category)


# ``aimon audit pii`` scans every text column, id and name: everything ``aimon redact``
# scrubs and more.
DEFAULT_FIELDS: tuple[Field, ...] = tuple(Field)


@dataclass(frozen=True)
class EntityType:
    name: str
    category: str          # "pii" or "secret"
    context_required: bool  # found only next to a context word (DOB:, passport no., ...)
    description: str

    @property
    def marker(self) -> str:
        return f"[REDACTED_{self.name.upper()}]"


ENTITY_TYPES: dict[str, EntityType] = {e.name: e for e in [
    EntityType("email", "pii", False, "e-mail address"),
    EntityType("phone", "pii", False, "phone number, validated with libphonenumber (E.164, US and national formats; "
                                     "well-formed numbers after a phone word at low confidence)"),
    EntityType("us_ssn", "pii", False, "US social security number (area/group/serial ranges checked)"),
    EntityType("credit_card", "pii", False, "payment card number: Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay; Luhn-checked"),
    EntityType("ipv4", "pii", False, "IPv4 address (ipaddress-validated; loopback and broadcast excluded)"),
    EntityType("ipv6", "pii", False, "IPv6 address (ipaddress-validated)"),
    EntityType("iban", "pii", False, "IBAN (country length and mod-97 checked)"),
    EntityType("date_of_birth", "pii", True, "date of birth, only after a word such as DOB, born, date of birth"),
    EntityType("passport", "pii", True, "passport number, only after the word passport"),
    EntityType("drivers_license", "pii", True, "driver's licence number, only after driver's licence/DL"),
    EntityType("aws_access_key_id", "secret", False, "AWS access key id (AKIA/ASIA...)"),
    EntityType("aws_secret_access_key", "secret", True, "AWS secret access key, after its variable name"),
    EntityType("google_api_key", "secret", False, "Google Cloud API key (AIza...)"),
    EntityType("openai_api_key", "secret", False, "OpenAI API key (sk-, sk-proj-...)"),
    EntityType("anthropic_api_key", "secret", False, "Anthropic API key (sk-ant-...)"),
    EntityType("github_token", "secret", False, "GitHub token (ghp_, gho_, ghs_, github_pat_...)"),
    EntityType("slack_token", "secret", False, "Slack token (xoxb-, xoxp-...) or incoming-webhook URL"),
    EntityType("private_key", "secret", False, "PEM private key block"),
    EntityType("jwt", "secret", False, "JSON Web Token (header and payload decode to JSON)"),
]}


@dataclass(frozen=True)
class Kind:
    """One alternative of the candidate expression and the validator for its matches."""

    name: str
    pattern: str
    validate: v.Validator
    context: bool = False  # the match includes a context word before the entity
    # The validator also takes the regions placing the text (jurisdiction, configured
    # list); an unclaimed match is searched again, as a context form is.
    regional: bool = False


_HEX = "[0-9A-Fa-f]"


_ID_GAP = r"(?i:[\s:#.,-]{0,3}(?:no|nr|number|num|id)\b\.?)?(?i:[\s:#.,-]{0,3}is\b)?[\s:#.,-]{1,4}"


_MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\\.?"


# Order matters where two alternatives can start at the same character (RE2 takes the
# first that matches): specific secrets before generic shapes, context forms before the
# bare numbers they contain, cards before phone numbers.
KINDS: tuple[Kind, ...] = (
    Kind("private_key",
         r"-----BEGIN [A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----(?:(?:[A-Za-z0-9+/=\s:,.]|-[A-Za-z0-9+/=]|\\[nr])*?"
         r"-----END [A-Z ]{0,24}PRIVATE KEY(?: BLOCK)?-----"
         r"|(?:(?:\s|\\[nr])*[A-Za-z0-9+/=]{16,})*)", s.private_key),
    Kind("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", s.jwt),
    Kind("anthropic_api_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", s.anthropic_api_key),
    Kind("openai_api_key", r"\bsk-[A-Za-z0-9_-]{20,}", s.openai_api_key),
    Kind("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})", s.github_token),
    Kind("slack_token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9_/]{20,}",
         s.slack_token),
    Kind("aws_access_key_id", r"\b(?:(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}"
                              r"|(?:akia|asia|abia|acca|a3t[a-z0-9])[a-z0-9]{16})\b", s.aws_access_key_id),
    Kind("google_api_key", r"\b(?:AIza|aiza)[0-9A-Za-z_-]{35,}", s.google_api_key),
    Kind("aws_secret_ctx",
         r"(?i:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}",
         s.aws_secret_access_key, context=True),
    Kind("dob_ctx",
         r"(?i:\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on| in)?|birthday)\b)[^\n]{0,30}?"
         r"(?:\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{1,2}-\d{1,2}\b"
         rf"|(?i:\b\d{{1,2}}(?:st|nd|rd|th)? {_MONTH},? \d{{4}}\b|\b{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b))",
         v.date_of_birth, context=True),
    Kind("passport_ctx", rf"(?i:\bpassport){_ID_GAP}[A-Za-z0-9]{{6,9}}\b", v.passport, context=True),
    Kind("drivers_license_ctx",
         rf"(?i:\b(?:driver'?s?|driving)[\s-]?licen[cs]e|\bDL\b){_ID_GAP}[A-Za-z0-9][A-Za-z0-9-]{{4,17}}\b",
         v.drivers_license, context=True),
    Kind("ssn_ctx",
         r"(?i:\b(?:ssn|social security(?: number| no\.?| #)?|ss#))[^0-9A-Za-z\n]{0,5}"
         r"(?i:(?:is|number|no\.?)[^0-9A-Za-z\n]{0,3})?\d{3}[- ]?\d{2}[- ]?\d{4}\b",
         v.ssn_in_context, context=True),
    Kind("phone_ctx", rf"(?:{p.PHONE_WORDS})[^0-9+(\n]{{0,20}}\+?\(?\d[\d .()-]{{5,18}}\d\b",
         p.phone_in_context, context=True, regional=True),
    Kind("email", r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", v.email),
    # Upper case as written, or lower case as ingest leaves an error type; never mixed.
    Kind("iban", r"\b(?:[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
                 r"|[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?)\b", v.iban),
    Kind("ipv6",
         rf"\b(?:{_HEX}{{1,4}}:){{7}}{_HEX}{{1,4}}"
         rf"|\b{_HEX}{{1,4}}(?::{_HEX}{{1,4}}){{0,6}}::(?:{_HEX}{{1,4}}(?::{_HEX}{{1,4}}){{0,6}})?",
         v.ipv6),
    Kind("credit_card", r"\b(?:\d{4}[ -]?){3}\d{4}(?:[ -]?\d{3})?\b|\b\d{4}[ -]?\d{6}[ -]?\d{4,5}\b", v.credit_card),
    Kind("us_ssn", r"\b\d{3}[- ]\d{2}[- ]\d{4}\b", v.us_ssn),
    Kind("ipv4", r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", v.ipv4),
    Kind("phone_intl", r"\+\d[\d .()-]{6,18}\d", p.phone_international),
    Kind("phone_us", r"(?:\b1[ .-])?(?:\(\d{3}\)[ .-]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b", p.phone_us,
         regional=True),
    # National numbers with no phone word: a trunk prefix (020 7946 0958, 01 42 68 53 00,
    # 03-3211-4567, 030 12345678) or the 3-2-2-2 grouping of countries without one
    # (ES 612 34 56 78); judged against the regions placing the text, last so that every
    # other shape starting at the same place wins.
    Kind("phone_national", r"\b0\d{1,4}(?:[ .-]\d{2,8}){2,4}\b|\b0\d{1,4}[ /-]\d{6,8}\b|\b[1-9]\d{2}(?:[ .]\d{2}){3}\b",
         p.phone_national,
         regional=True),
)


CANDIDATE_RE = "|".join(f"({k.pattern})" for k in KINDS)


GROUP_NAMES = [f"k{i}" for i in range(len(KINDS))]


@cache
def py_candidate_re() -> re.Pattern[str]:
    """The same expression in Python, for the parts of a candidate a validator did not
    claim; compiled on first use (rarely: every command masks what it prints, and compiling
    it cost each one about 0.004 s of start-up)."""
    return re.compile(CANDIDATE_RE, re.ASCII)


def parse_entity_types(text: str, *, option: str = "--fail-on") -> frozenset[str]:
    """'any', 'pii', 'secret' or a comma list of entity types -> the set of type names."""
    wanted: set[str] = set()
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name in ("any", "all"):
            wanted.update(ENTITY_TYPES)
        elif name in ("pii", "secret", "secrets"):
            wanted.update(e.name for e in ENTITY_TYPES.values() if e.category == name.rstrip("s"))
        elif name in ENTITY_TYPES:
            wanted.add(name)
        else:
            raise UsageError(f"{option}: unknown entity type {raw.strip()!r}; use any, pii, secret or "
                             f"one of {', '.join(ENTITY_TYPES)}")
    if not wanted:
        raise UsageError(f"{option} needs 'any' or entity types such as email,credit_card")
    return frozenset(wanted)


def parse_fields(text: str | None) -> tuple[Field, ...]:
    if not text:
        return DEFAULT_FIELDS
    fields = []
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        try:
            field = Field(name)
        except ValueError:
            raise UsageError(f"--fields: unknown field {raw.strip()!r}; use "
                             f"{', '.join(f.value for f in Field)}") from None
        if field not in fields:
            fields.append(field)
    if not fields:
        raise UsageError("--fields needs at least one of " + ", ".join(f.value for f in Field))
    return tuple(fields)
