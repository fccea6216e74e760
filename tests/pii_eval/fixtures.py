"""Small request logs with planted PII, for the CLI, redaction, compliance and forget tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import request

# Valid values (Luhn, mod-97, SSN ranges, numbering plan), each planted once or more.
EMAIL = "maria.garcia@example-mail.com"
PHONE = "(415) 555-0132"
SSN = "219-44-7356"
CARD = "4539 1488 0343 6467"
IBAN = "DE89 3704 0044 0532 0130 00"
IPV4 = "185.245.110.246"
OPENAI_KEY = "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"
USER_EMAIL_ID = "bob.builder@example-mail.com"  # a user id that is itself an e-mail

PLANTED = [EMAIL, PHONE, SSN, CARD, IBAN, IPV4, OPENAI_KEY, USER_EMAIL_ID]
# Look-alikes that must not be reported.
LOOKALIKES = ["4539 1488 0343 6468", "666-12-3456", "DE88 3704 0044 0532 0130 00", "version 1.2.3.4"]


def records() -> list[dict[str, Any]]:
    return [
        request(request_id="r1", timestamp="2026-11-01T09:00:00Z", user_id="u1", model="gpt-4o", endpoint="/chat",
                prompt=f"Hi, I'm Maria, write to {EMAIL} or call {PHONE}.",
                response=f"Sure, I will e-mail {EMAIL}.", jurisdiction="EU", consent=False),
        request(request_id="r2", timestamp="2026-11-01T10:00:00Z", user_id="u1", model="gpt-4o", endpoint="/support",
                prompt=f"My SSN is {SSN} and card {CARD}; refund to {IBAN}.",
                response="I cannot process payment data.", jurisdiction="EU", consent=True),
        request(request_id="r3", timestamp="2026-11-02T10:00:00Z", user_id="u2", model="gpt-4o-mini",
                endpoint="/code", prompt=f"OPENAI_API_KEY={OPENAI_KEY} fails from {IPV4}",
                response="Rotate that key now.", jurisdiction="US", consent=True),
        request(request_id="r4", timestamp="2026-11-02T11:00:00Z", user_id="u3", model="gpt-4o-mini",
                endpoint="/chat", prompt=f"Look-alikes: {', '.join(LOOKALIKES)} and order 1234-5678-9012.",
                response="Nothing personal here.", jurisdiction="UK", consent=None),
        request(request_id="r5", timestamp="2026-11-03T10:00:00Z", user_id=USER_EMAIL_ID, model="gpt-4o",
                endpoint="/chat", prompt="What is the refund policy?", response="30 days.",
                jurisdiction="US", consent=True),
    ]


def feedback_records() -> list[dict[str, Any]]:
    return [
        {"timestamp": "2026-11-01T09:05:00Z", "request_id": "r1", "user_id": "u1", "feedback_type": "report",
         "feedback_category": "harmful", "feedback_text": f"it leaked {EMAIL}!"},
        {"timestamp": "2026-11-02T10:05:00Z", "request_id": "r3", "user_id": "u2", "feedback_type": "thumbs_up"},
    ]


def build_database(directory: Path) -> Path:
    """An aimon database holding :func:`records` and :func:`feedback_records`."""
    from aimon.store.connection import connect
    from aimon.store.ingest import ingest

    path = directory / "template.duckdb"
    for name, recs in (("r.jsonl", records()), ("f.jsonl", feedback_records())):
        (directory / name).write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    con = connect(path, write=True)
    try:
        ingest(con, [str(directory / "r.jsonl")], table="requests")
        ingest(con, [str(directory / "f.jsonl")], table="feedback")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path
