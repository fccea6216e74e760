"""Validators for leaked secrets: cloud keys, API tokens, private keys and JWTs, by their
formats (prefixes, lengths, character variety, JWT structure)."""

from __future__ import annotations

import base64
import binascii
import json
import re

from aimon.analysis.pii.validators import Verdict, _low_variety, _no, _yes


def _mixed(s: str) -> bool:
    """Random-looking key material mixes at least two of upper case, lower case, digits."""
    return (any(c.isupper() for c in s) + any(c.islower() for c in s) + any(c.isdigit() for c in s)) >= 2


def aws_access_key_id(value: str, before: str, after: str) -> list[Verdict]:
    body = value[4:].upper()  # a lower-cased key (ingest lower-cases error types) is one too
    if not re.fullmatch(r"[A-Z2-7]{16}", body):
        return _no("aws_access_key_id", "not_base32")
    if body.endswith("EXAMPLE") or _low_variety(body, 6):
        return _no("aws_access_key_id", "placeholder")
    return _yes("aws_access_key_id")


def aws_secret_access_key(value: str, before: str, after: str) -> list[Verdict]:
    m = re.search(r"[A-Za-z0-9/+]{40}$", value)
    if not m:
        return _no("aws_secret_access_key", "malformed")
    secret = m.group(0)
    if not _mixed(secret) or _low_variety(secret, 15) or "EXAMPLE" in secret:
        return _no("aws_secret_access_key", "placeholder", m.start())
    return _yes("aws_secret_access_key", m.start())


def google_api_key(value: str, before: str, after: str) -> list[Verdict]:
    if len(value) != 39 or _low_variety(value[4:], 10):
        return _no("google_api_key", "placeholder")
    return _yes("google_api_key")


def openai_api_key(value: str, before: str, after: str) -> list[Verdict]:
    body = re.sub(r"^sk-(?:proj-|svcacct-|admin-|None-)?", "", value)
    if "T3BlbkFJ" in body:  # base64 of "OpenAI", inside every legacy and project key
        return _yes("openai_api_key")
    if len(body) < 32 or not _mixed(body) or _low_variety(body, 12) or body.count("-") > 3:
        return _no("openai_api_key", "placeholder")
    return _yes("openai_api_key")


def anthropic_api_key(value: str, before: str, after: str) -> list[Verdict]:
    m = re.match(r"sk-ant-(?:api|admin|oat|sid)\d\d-([A-Za-z0-9_-]+)$", value)
    if not m or len(m.group(1)) < 80 or not _mixed(m.group(1)) or _low_variety(m.group(1), 20):
        return _no("anthropic_api_key", "placeholder")
    return _yes("anthropic_api_key")


def github_token(value: str, before: str, after: str) -> list[Verdict]:
    if value.startswith("github_pat_"):
        body = value[len("github_pat_"):]
        ok = len(body) == 82
    else:
        body = value[4:]
        ok = len(body) == 36
    if not ok:
        return _no("github_token", "wrong_length")
    if not _mixed(body) or _low_variety(body, 12):
        return _no("github_token", "placeholder")
    return _yes("github_token")


def slack_token(value: str, before: str, after: str) -> list[Verdict]:
    if value.startswith("https://"):
        parts = value.split("/services/", 1)[1].split("/")
        if len(parts) >= 3 and parts[0].startswith("T") and parts[1].startswith("B") and len(parts[2]) >= 20:
            return _yes("slack_token")
        return _no("slack_token", "malformed")
    body = value[5:]
    if not re.match(r"\d{6,}-", body) or _low_variety(body, 10) or len(body) < 20:
        return _no("slack_token", "malformed")
    return _yes("slack_token")


_BASE64_LINE_RE = re.compile(r"[A-Za-z0-9+/=]{16,}")


def private_key(value: str, before: str, after: str) -> list[Verdict]:
    material = sum(len(m) for m in _BASE64_LINE_RE.findall(value.split("-----", 2)[-1]))
    if material < 40:
        return _no("private_key", "no_key_material")  # docs naming the header only
    return _yes("private_key")


def _b64json(part: str) -> object:
    padded = part + "=" * (-len(part) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def jwt(value: str, before: str, after: str) -> list[Verdict]:
    parts = value.split(".")
    if len(parts) != 3:
        return _no("jwt", "malformed")
    header, payload = _b64json(parts[0]), _b64json(parts[1])
    if not isinstance(header, dict) or "alg" not in header or not isinstance(payload, dict):
        return _no("jwt", "not_a_jwt")
    return _yes("jwt")
