"""Where PII and look-alikes go: carrier sentences per endpoint, and the
planting pass over the main app's requests."""

from . import config as C
from . import pii
from .util import rng

CARRIERS = {
    "/support-bot": {
        "email": ["You can reach me at {v}.", "My account email is {v}, in case you need it."],
        "phone": ["Please call me back on {v}.", "My phone number is {v} if that's easier."],
        "credit_card": ["The charge was on my card {v}, can you check it?",
                        "I paid with the card {v} and it was charged twice."],
        "us_ssn": ["The tax form asked for my SSN, it's {v}. Is that why my invoice is on hold?"],
        "iban": ["Please send the refund to my bank account, IBAN {v}.",
                 "Refund to IBAN {v} please, the card is closed."],
        "ipv4": ["If it helps, my IP address is {v}."],
    },
    "/chat": {
        "email": ["Draft a polite follow-up email to {v} about the contract renewal.",
                  "Also, cc my colleague at {v}."],
        "phone": ["Write a short voicemail I can leave for my landlord at {v}."],
        "us_ssn": ["Is it safe to email my SSN {v} to my accountant?"],
        "ipv4": ["My home server at {v} stopped responding after a router reset. What should I check?"],
        "ipv6": ["Why can't I ping {v} from my laptop?"],
    },
    "/summarize": {
        "email": ["For questions, contact the account manager at {v}."],
        "phone": ["The on-call contact for this incident is reachable at {v}."],
    },
    "/code-review": {
        "aws_access_key_id": ["Here is the client setup it uses:\n```python\ns3 = boto3.client(\n    \"s3\",\n    aws_access_key_id=\"{v}\",\n    aws_secret_access_key=os.environ[\"AWS_SECRET_ACCESS_KEY\"],\n)\n```"],
        "openai_api_key": ["And the settings file:\n```python\nOPENAI_API_KEY = \"{v}\"\nMODEL = \"gpt-4o-mini\"\n```"],
        "ipv4": ["The service connects to `DB_HOST = \"{v}\"` in staging."],
        "ipv6": ["Staging listens on `[{v}]:8443`."],
        "email": ["Alerts go to `ADMIN_EMAIL = \"{v}\"`."],
    },
}

NEG_CARRIERS = {
    "/support-bot": {"order_number": ["My order number is {v}."], "version_string": ["The app says version {v}."],
                     "uuid": ["The error page showed reference {v}."], "timestamp": ["It happened at {v}."],
                     "card_number_bad_luhn": ["The gift card code printed on the back is {v}."],
                     "iban_bad_checksum": ["The reference on my bank statement reads {v}."]},
    "/chat": {"order_number": ["The tracking reference is {v}."], "timestamp": ["The meeting was logged at {v}."],
              "ssn_invalid_range": ["My library card says {v}, what kind of number is that?"],
              "version_string": ["I'm on macOS {v}."]},
    "/code-review": {"git_hash": ["This started failing after commit {v}."], "uuid": ["Example request id: {v}."],
                     "version_string": ["We pin the library at {v}."], "timestamp": ["The failing log line is stamped {v}."]},
    "/summarize": {"order_number": ["The related purchase order is {v}."], "timestamp": ["The document was exported at {v}."]},
}


def _gen(r, kind):
    if kind == "phone":
        return pii.phone(r)
    return pii.PII_GEN[kind](r), None


def _insert(r, req, sentence):
    if req["endpoint"] in ("/code-review", "/summarize") or r.random() < 0.5:
        req["prompt"] = req["prompt"] + ("\n\n" if req["endpoint"] == "/code-review" else " ") + sentence
    else:
        req["prompt"] = sentence + " " + req["prompt"]


def plant_pii(reqs):
    """Returns (pii_records, negative_records)."""
    r = rng("pii")
    found, negatives = [], []
    eligible = [q for q in reqs if q["endpoint"] in CARRIERS and not q["tags"] and not q["cache_hit"]]
    for q in eligible:
        x = r.random()
        if x < C.PII_PROMPT_P:
            kinds = sorted(CARRIERS[q["endpoint"]])
            chosen = [r.choice(kinds)]
            if r.random() < 0.2:
                other = r.choice(kinds)
                if other != chosen[0]:
                    chosen.append(other)
            for kind in chosen:
                value, sub = _gen(r, kind)
                _insert(r, q, r.choice(CARRIERS[q["endpoint"]][kind]).replace("{v}", value))
                rec = dict(request_id=None, type=kind, value=value, where="prompt", _req=q)
                if sub:
                    rec["format"] = sub
                found.append(rec)
                q["pii"].append(kind)
            q["tags"].append("pii")
            if "email" in chosen and q["endpoint"] == "/support-bot" and r.random() < 0.35:
                value = next(f["value"] for f in found if f["_req"] is q and f["type"] == "email")
                q["response"] += f"\n\nI've sent a confirmation to {value}."
                found.append(dict(request_id=None, type="email", value=value, where="response", _req=q))
        elif x < C.PII_PROMPT_P + C.HARD_NEGATIVE_P:
            kinds = sorted(NEG_CARRIERS[q["endpoint"]])
            kind = r.choice(kinds)
            value = pii.NEG_GEN[kind](r)
            _insert(r, q, r.choice(NEG_CARRIERS[q["endpoint"]][kind]).replace("{v}", value))
            negatives.append(dict(request_id=None, type=kind, value=value, _req=q))
            q["tags"].append("pii_lookalike")
    return found, negatives
