"""Masks for text samples shown in reports: anything that looks like an e-mail, a key,
an IBAN, an IP address or a long digit run, validated or not.

It errs on the side of masking: it runs after the validated detectors have marked what
they found (:func:`aimon.analysis.pii.scan.redact_texts`) as a backstop for look-alikes,
because a sample is no place to gamble. It is not an audit (``aimon audit pii`` is).
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


_KEY = re.compile(
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}"  # OpenAI/Anthropic/Stripe-style secret keys
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\b(?:akia|asia)[0-9a-z]{16}\b"  # AWS access key ids (lower-cased too)
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack tokens
    r"|\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"  # JWTs
    r"|\b(?=[A-Za-z0-9_\-+/]*\d)(?=[A-Za-z0-9_\-+/]*[A-Za-z])[A-Za-z0-9_\-+/]{32,}={0,2}"  # long mixed tokens
)


_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"
                   r"|\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?\b")  # lower-cased error types


_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")


_IPV6 = re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}\b"
                   r"|\b(?:[0-9A-Fa-f]{1,4}:)+:(?:[0-9A-Fa-f]{1,4}:?)+\b")


# Phone-like numbers and long digit runs: 6+ digits, optionally with +, brackets,
# spaces, dots or hyphens between them (cards, SSNs, accounts, phone numbers).
_DIGITS = re.compile(r"(?<![\w])\+?\(?\d[\d ().\-]{4,}\d(?![\w])")


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}(?::\d{2})?)?$")


def _digits(match: re.Match) -> str:
    text = match.group(0)
    if sum(c.isdigit() for c in text) < 6 or _DATE.match(text):
        return text
    return "[PHONE]" if text.startswith(("+", "(")) else "[NUMBER]"


def redact(text: str | None, limit: int | None = 200) -> str | None:
    """``text`` with e-mails, key-like tokens, IBANs, IP addresses, phone-like numbers and
    long digit runs masked, cut to ``limit`` characters. Errs on the side of masking:
    it is for samples in reports, not for an audit (``aimon audit pii`` is that)."""
    if text is None:
        return None
    out = _EMAIL.sub("[EMAIL]", text)
    out = _KEY.sub("[KEY]", out)
    out = _IBAN.sub("[IBAN]", out)
    out = _IPV6.sub("[IP]", out)
    out = _IPV4.sub("[IP]", out)
    out = _DIGITS.sub(_digits, out)
    out = " ".join(out.split())
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out
