"""The labelled PII evaluation set: generated text with planted entities and hard negatives.

    python tests/pii_eval/generate.py      # rewrites tests/pii_eval/eval_set.jsonl

Every record is a short prompt- or log-like text. Planted entities are real-shaped and
valid (Luhn, mod-97, SSN ranges, numbering plans, decodable JWTs, PEM blocks) and their
character spans are recorded; hard negatives are look-alikes that must not be reported
(numbers failing their checksum, order numbers, version strings, UUIDs, hashes,
timestamps, placeholders, C++ scopes, MAC addresses, dates without a birth context...).
Values are made here, independently of aimon's patterns, and the file is seeded, so the
set is stable: precision and recall per entity type are computed against it by
``tests/pii_eval/evaluate.py`` (used by ``tests/test_pii_eval.py`` and
``benchmarks/pii.py``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

import phonenumbers

HERE = Path(__file__).parent
EVAL_SET = HERE / "eval_set.jsonl"
SEED = 20261127
RECORDS = 2400

ALNUM = string.ascii_letters + string.digits
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64URL = ALNUM + "-_"

FIRST = ["maria", "james", "aisha", "lukas", "sofia", "daniel", "priya", "tom", "elena", "kenji", "fatima",
         "oliver", "ana", "noah", "chloe", "rahul", "grace", "mateo", "lena", "samuel", "zoe", "ivan"]
LAST = ["garcia", "smith", "khan", "muller", "rossi", "nguyen", "patel", "obrien", "silva", "tanaka",
        "dubois", "kowalski", "jensen", "costa", "walker", "fischer", "mendes", "brown", "ivanova", "lee"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "icloud.com", "web.de", "orange.fr",
           "mail.northwind-legal.com", "brightpath.io", "uni-heidelberg.de", "example.org", "gov.in"]


# --------------------------------------------------------------------------- positives

def email(r: random.Random) -> str:
    first, last = r.choice(FIRST), r.choice(LAST)
    local = r.choice([f"{first}.{last}", f"{first}_{last}", f"{first}{last}{r.randint(1, 99)}",
                      f"{first[0]}{last}", f"{first}+{r.choice(['news', 'work', 'x'])}@".rstrip("@"),
                      f"{first.capitalize()}.{last.capitalize()}", f"{last}-{first}"])
    return f"{local}@{r.choice(DOMAINS)}"


US_AREAS = ["212", "415", "312", "646", "617", "206", "512", "303", "404", "305", "702", "818", "919"]


def _valid(number: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def phone(r: random.Random) -> str:
    while True:
        d = lambda n: "".join(str(r.randrange(10)) for _ in range(n))  # noqa: E731
        area, exch, line = r.choice(US_AREAS), str(r.randint(201, 989)), d(4)
        formats = [
            f"({area}) {exch}-{line}", f"{area}-{exch}-{line}", f"{area}.{exch}.{line}",
            f"+1 {area} {exch} {line}", f"+1-{area}-{exch}-{line}", f"+1{area}{exch}{line}",
            f"1-800-{exch}-{line}", f"+44 20 7946 {d(4)}", f"+44 7911 {d(6)}", f"+442079460{d(3)}",
            f"+49 30 {d(8)}", f"+49 151 {d(8)}", f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}", f"+91 98{d(3)} {d(5)}", f"+55 11 9{d(4)}-{d(4)}",
            f"+34 612 {d(3)} {d(3)}", f"+81 3-{d(4)}-{d(4)}", f"+61 2 9{d(3)} {d(4)}", f"+353 87 {d(3)} {d(4)}",
        ]
        value = r.choice(formats)
        if _valid(value, "US"):
            return value


def _ssn_digits(r: random.Random) -> tuple[str, str, str]:
    while True:
        area = r.randint(1, 899)
        if area != 666:
            return f"{area:03d}", f"{r.randint(1, 99):02d}", f"{r.randint(1, 9999):04d}"


def us_ssn(r: random.Random) -> str:
    a, g, s = _ssn_digits(r)
    return r.choice([f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}"])


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def _digits(r: random.Random, n: int) -> str:
    return "".join(str(r.randrange(10)) for _ in range(n))


CARD_BRANDS = [("4", 16), ("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
               ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("300", 14)]


def card_number(r: random.Random) -> str:
    prefix, n = r.choice(CARD_BRANDS)
    body = prefix + _digits(r, n - len(prefix) - 1)
    return body + luhn_digit(body)


def format_card(r: random.Random, digits: str) -> str:
    if len(digits) == 15:
        sep = r.choice([" ", "-", ""])
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    if len(digits) == 14:
        sep = r.choice([" ", "-", ""])
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    sep = r.choice([" ", "-", "", " "])
    return sep.join(digits[i:i + 4] for i in range(0, len(digits), 4))


def credit_card(r: random.Random) -> str:
    return format_card(r, card_number(r))


def ipv4(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.25:
        return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
    if kind < 0.4:
        return f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}"
    return f"{r.choice([34, 52, 81, 91, 104, 145, 185, 203, 212, 8, 66])}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def ipv6(r: random.Random) -> str:
    g = [f"{r.randrange(0x2000, 0x4000):x}"] + [f"{r.randrange(1, 65536):x}" for _ in range(7)]
    style = r.random()
    if style < 0.35:
        return ":".join(g)
    if style < 0.6:
        return f"2001:db8:{g[0]}::{g[1]}"
    if style < 0.8:
        return f"fe80::{g[0]}:{g[1]}:{g[2]}:{g[3]}"
    full = ":".join(f"{int(x, 16):04X}" for x in g)
    return full


IBAN_SPECS = {"DE": ("n", 18), "GB": ("bank", 14), "FR": ("n", 23), "NL": ("bank", 10), "ES": ("n", 20),
              "IT": ("it", 22), "BE": ("n", 12), "CH": ("n", 17), "AT": ("n", 16), "PL": ("n", 24),
              "IE": ("bank", 14), "NO": ("n", 11)}
BANKS = ["NWBK", "BARC", "HBUK", "LOYD", "ABNA", "INGB", "RABO", "AIBK", "BOFI"]


def _iban_check(country: str, bban: str) -> str:
    n = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{98 - n % 97:02d}"


def _bban(r: random.Random, country: str) -> str:
    kind, n = IBAN_SPECS[country]
    if kind == "bank":
        return r.choice(BANKS) + _digits(r, n)
    if kind == "it":
        return r.choice(string.ascii_uppercase) + _digits(r, n)
    return _digits(r, n)


def format_iban(r: random.Random, compact: str) -> str:
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4)) if r.random() < 0.6 else compact


def iban(r: random.Random) -> str:
    country = r.choice(list(IBAN_SPECS))
    bban = _bban(r, country)
    return format_iban(r, country + _iban_check(country, bban) + bban)


def _rand(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def aws_access_key_id(r: random.Random) -> str:
    return r.choice(["AKIA", "AKIA", "ASIA"]) + _rand(r, B32, 16)


def aws_secret_access_key(r: random.Random) -> str:
    return _rand(r, ALNUM + "/+", 40)


def google_api_key(r: random.Random) -> str:
    return "AIza" + _rand(r, ALNUM + "-_", 35)


def openai_api_key(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.4:
        return "sk-" + _rand(r, ALNUM, 20) + "T3BlbkFJ" + _rand(r, ALNUM, 20)
    if kind < 0.8:
        return "sk-proj-" + _rand(r, B64URL, 74) + "T3BlbkFJ" + _rand(r, B64URL, 74)
    return "sk-svcacct-" + _rand(r, B64URL, 60) + "T3BlbkFJ" + _rand(r, B64URL, 60)


def anthropic_api_key(r: random.Random) -> str:
    return "sk-ant-api03-" + _rand(r, B64URL, 93) + "AA"


def github_token(r: random.Random) -> str:
    if r.random() < 0.7:
        return r.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + _rand(r, ALNUM, 36)
    return "github_pat_" + _rand(r, ALNUM, 22) + "_" + _rand(r, ALNUM, 59)


def slack_token(r: random.Random) -> str:
    kind = r.random()
    if kind < 0.45:
        return f"xoxb-{_digits(r, 12)}-{_digits(r, 13)}-{_rand(r, ALNUM, 24)}"
    if kind < 0.8:
        return f"xoxp-{_digits(r, 12)}-{_digits(r, 12)}-{_digits(r, 13)}-{_rand(r, '0123456789abcdef', 32)}"
    return f"https://hooks.slack.com/services/T{_rand(r, B32, 8)}/B{_rand(r, B32, 10)}/{_rand(r, ALNUM, 24)}"


def private_key(r: random.Random) -> str:
    label = r.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    body = base64.b64encode(r.randbytes(r.choice([120, 240, 400]))).decode()
    lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(r: random.Random) -> str:
    header = {"alg": r.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {"sub": str(r.randint(10 ** 5, 10 ** 9)), "name": f"{r.choice(FIRST)} {r.choice(LAST)}",
               "iat": 1760000000 + r.randint(0, 10 ** 7)}
    if r.random() < 0.5:
        payload["email_verified"] = True
    sig = _b64url(hashlib.sha256(r.randbytes(16)).digest() * r.choice([1, 2]))
    return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}.{sig}"


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def _birth(r: random.Random) -> tuple[int, int, int]:
    return r.randint(1940, 2008), r.randint(1, 12), r.randint(1, 28)


def dob_value(r: random.Random) -> str:
    y, m, d = _birth(r)
    return r.choice([f"{m:02d}/{d:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{y}-{m:02d}-{d:02d}",
                     f"{d} {MONTHS[m - 1]} {y}", f"{MONTHS[m - 1]} {d}, {y}", f"{d}/{m}/{y}"])


def passport_value(r: random.Random) -> str:
    return r.choice([_digits(r, 9), r.choice(string.ascii_uppercase) + _digits(r, 8),
                     "C" + _digits(r, 1) + _rand(r, "0123456789CFGHJKLMNPRTVWXYZ", 7), _rand(r, string.ascii_uppercase, 2) + _digits(r, 7)])


def dl_value(r: random.Random) -> str:
    return r.choice([r.choice(string.ascii_uppercase) + _digits(r, 7), _digits(r, 9),
                     _rand(r, string.ascii_uppercase, 5) + _digits(r, 6) + _rand(r, string.ascii_uppercase, 2) + _digits(r, 1) + _rand(r, string.ascii_uppercase, 2),
                     f"{r.choice(string.ascii_uppercase)}{_digits(r, 3)}-{_digits(r, 4)}-{_digits(r, 4)}"])


# (type, value maker, lead-ins that introduce it naturally)
POSITIVES: dict[str, tuple[Callable[[random.Random], str], list[str]]] = {
    "email": (email, ["You can reach me at {}", "my email is {}", "send the invoice to {} please", "cc: {}",
                      "Contact: <{}>", "reply to {}.", "login {} fails"]),
    "phone": (phone, ["call me on {}", "my number is {}", "Tel.: {}", "reach the office at {}", "({}) is my cell",
                      "text {} when ready", "whatsapp {}"]),
    "us_ssn": (us_ssn, ["my SSN is {}", "social security number {}", "SSN: {}", "here is {} for the tax form",
                        "applicant {} (ssn)"]),
    "credit_card": (credit_card, ["card number {}", "charge {} please", "my visa is {}", "cc {} exp 09/28",
                                  "pay with {}", "the card ending in the digits {} was declined"]),
    "ipv4": (ipv4, ["the server at {} is down", "connect to {}:8080", "blocked IP {}", "from {} we saw errors",
                    "http://{}/admin returned 500", "client_ip={}"]),
    "ipv6": (ipv6, ["client address {}", "ping {}", "the host [{}]:443 refused", "ipv6={}", "route to {} failed"]),
    "iban": (iban, ["IBAN: {}", "transfer to {} today", "my account {} at the bank", "pay to {}, ref 2291"]),
    "aws_access_key_id": (aws_access_key_id, ["aws_access_key_id = {}", "key {} leaked", "AWS_ACCESS_KEY_ID={}",
                                              "use {} for the bucket"]),
    "aws_secret_access_key": (aws_secret_access_key, ["aws_secret_access_key = {}", "AWS_SECRET_ACCESS_KEY={}",
                                                      "secret_access_key: {}"]),
    "google_api_key": (google_api_key, ["GOOGLE_API_KEY={}", "maps key {} stopped working", "key={}&q=paris"]),
    "openai_api_key": (openai_api_key, ["OPENAI_API_KEY={}", "my key is {} why 401", "Authorization: Bearer {}"]),
    "anthropic_api_key": (anthropic_api_key, ["ANTHROPIC_API_KEY={}", "x-api-key: {}", "client = Anthropic(api_key=\"{}\")"]),
    "github_token": (github_token, ["GITHUB_TOKEN={}", "git clone https://{}@github.com/acme/app", "token {} expired"]),
    "slack_token": (slack_token, ["SLACK_BOT_TOKEN={}", "post with {}", "webhook: {}"]),
    "private_key": (private_key, ["here is my key:\n{}\nwhy does ssh refuse it?", "{}", "key file:\n{}"]),
    "jwt": (jwt, ["Authorization: Bearer {}", "the token {} is rejected", "id_token={}"]),
    "date_of_birth": (dob_value, ["DOB: {}", "date of birth {}", "I was born on {}", "born {}", "Birthday: {}",
                                  "d.o.b. {}"]),
    "passport": (passport_value, ["passport number {}", "Passport No. {}", "my passport is {}", "passport: {}",
                                  "passport #{}"]),
    "drivers_license": (dl_value, ["driver's license {}", "driving licence number {}", "DL# {}",
                                   "drivers license no. {}", "Driver License: {}"]),
}


# --------------------------------------------------------------------------- hard negatives

def _bad_luhn(r: random.Random) -> str:
    digits = card_number(r)
    return format_card(r, digits[:-1] + str((int(digits[-1]) + r.randint(1, 9)) % 10))


def _bad_prefix_card(r: random.Random) -> str:
    body = r.choice("1789") + _digits(r, 14)
    return format_card(r, body + luhn_digit(body))


def _bad_ssn(r: random.Random) -> str:
    a, g, s = _ssn_digits(r)
    choice = r.randrange(5)
    if choice == 0:
        a = r.choice(["000", "666", str(r.randint(900, 999))])
    elif choice == 1:
        g = "00"
    elif choice == 2:
        s = "0000"
    elif choice == 3:
        return r.choice(["078-05-1120", "123-45-6789", "219-09-9999"])
    else:
        a = str(r.randint(900, 999))
    return f"{a}-{g}-{s}"


def _bad_iban(r: random.Random) -> str:
    country = r.choice(list(IBAN_SPECS))
    bban = _bban(r, country)
    good = int(_iban_check(country, bban))
    bad = f"{(good + r.randint(1, 50)) % 97 + 2:02d}"
    if bad == f"{good:02d}":
        bad = f"{(good + 7) % 97 + 2:02d}"
    return format_iban(r, country + bad + bban)


def _bad_phone(r: random.Random) -> str:
    return r.choice([f"(123) 456-{_digits(r, 4)}", f"555-555-{_digits(r, 4)}", f"(000) {_digits(r, 3)}-{_digits(r, 4)}",
                     f"+1 (011) {_digits(r, 3)}-{_digits(r, 4)}", f"+999 {_digits(r, 9)}", f"+1 2{_digits(r, 2)}"])


def _version(r: random.Random) -> str:
    return r.choice([f"v{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 20)}.{r.randint(0, 99)}",
                     f"version {r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
                     f"{r.randint(1, 5)}.{r.randint(0, 40)}.{r.randint(0, 9)}-rc.{r.randint(1, 4)}",
                     f"2026.{r.randint(10, 11)}.{r.randint(1, 30)}.{r.randint(1000, 9999)}",
                     f"build {r.randint(1, 20)}.{r.randint(0, 9)}.{r.randint(0, 99)}.{r.randint(0, 999)}"])


def _order(r: random.Random) -> str:
    return r.choice([f"ORD-{r.randint(10 ** 7, 10 ** 8 - 1)}", f"{_digits(r, 4)}-{_digits(r, 4)}-{_digits(r, 4)}",
                     f"INV-2026-{r.randint(100, 999999):06d}", f"#{r.randint(10 ** 9, 10 ** 10 - 1)}",
                     f"tracking 1Z{_rand(r, string.ascii_uppercase + string.digits, 16)}",
                     f"ticket {r.randint(10000, 99999)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}X"])


def _timestamp(r: random.Random) -> str:
    d, h, m, s = r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
    return r.choice([f"2026-11-{d:02d} {h:02d}:{m:02d}:{s:02d}", f"2026-11-{d:02d}T{h:02d}:{m:02d}:{s:02d}.{_digits(r, 3)}Z",
                     str(1760000000 + r.randint(0, 10 ** 7)), str(1760000000000 + r.randint(0, 10 ** 10)),
                     f"{h:02d}:{m:02d}:{s:02d}", f"11/{d:02d}/2026 {h:02d}:{m:02d}"])


def _hashes(r: random.Random) -> str:
    return r.choice([str(uuid.UUID(bytes=r.randbytes(16), version=4)), hashlib.sha1(r.randbytes(8)).hexdigest(),
                     hashlib.sha256(r.randbytes(8)).hexdigest(), hashlib.md5(r.randbytes(8)).hexdigest()[:7],
                     "sha256:" + hashlib.sha256(r.randbytes(8)).hexdigest()])


def _net_lookalike(r: random.Random) -> str:
    mac = ":".join(f"{r.randrange(256):02x}" for _ in range(6))
    fp = ":".join(f"{r.randrange(256):02x}" for _ in range(16))
    return r.choice([mac, fp, "std::vector<int>", "Vec::new()", "a::b", "16:9", "127.0.0.1", "0.0.0.0",
                     f"{r.randint(256, 999)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(0, 255)}",
                     f"1.3.6.1.4.1.{r.randint(1, 99999)}", f"{r.randint(1, 28):02d}.{r.randint(1, 12):02d}.2026",
                     "::1", "fe80::", f"Foo::Bar::{r.choice(['baz', 'Add', 'face'])}"])


def _email_lookalike(r: random.Random) -> str:
    return r.choice([f"icon@{r.randint(2, 3)}x.png", f"lodash@4.17.{r.randint(10, 21)}", f"@{r.choice(FIRST)}",
                     "git@github.com:acme/app.git", f"{r.choice(FIRST)}@localhost", "@app.route('/x')",
                     f"react@18.{r.randint(0, 3)}.0"])


def _secret_lookalike(r: random.Random) -> str:
    return r.choice(["sk-learn", "sk-your-api-key-here", "sk-" + "x" * 40, "AKIAIOSFODNN7EXAMPLE", "AKIA" + "X" * 16,
                     "ghp_" + "x" * 36, "xoxb-your-bot-token", "-----BEGIN PRIVATE KEY----- (PEM header)",
                     "eyJhbGciOiJIUzI1NiJ9.notbase64!!.sig", "AIzaSyExample", "sk-ant-api03-REPLACE_ME",
                     "ghp_" + _rand(r, ALNUM, 12), "Bearer <token>", f"eyJ{_rand(r, ALNUM, 20)}.eyJ{_rand(r, ALNUM, 20)}.{_rand(r, ALNUM, 20)}"])


def _context_lookalike(r: random.Random) -> str:
    y, m, d = r.randint(2020, 2026), r.randint(1, 12), r.randint(1, 28)
    return r.choice([f"the meeting on {m:02d}/{d:02d}/{y}", f"due date {y}-{m:02d}-{d:02d}",
                     f"born in {r.randint(1950, 2000)} in Lyon", "passport renewal form is required",
                     f"passport office opens at {r.randint(8, 10)}:00", "DL model downloads",
                     f"the driver's license exam on {m}/{d}/{y}", f"birthday party on {MONTHS[m - 1]} {d}, {y + 2}"])


def _numbers(r: random.Random) -> str:
    return r.choice([f"{r.uniform(-90, 90):.4f}, {r.uniform(-180, 180):.4f}", f"${r.randint(1, 999)},{r.randint(100, 999)}.{r.randint(10, 99)}",
                     f"ISBN 978-{r.randint(0, 9)}-{r.randint(10, 99)}-{r.randint(100000, 999999)}-{r.randint(0, 9)}",
                     f"SKU {r.randint(100, 199)}-{r.randint(100, 999)}-{r.randint(1000, 9999)}",
                     f"{r.randint(1, 28):02d}-{r.randint(1, 12):02d}-{r.randint(2020, 2026)}",
                     f"{r.randint(10000, 99999)}-{r.randint(1000, 9999)}", f"{r.randint(100, 999)} {r.randint(100, 999)} {r.randint(1000, 9999)} tokens",
                     f"{r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} bytes"])


NEGATIVES: dict[str, Callable[[random.Random], str]] = {
    "numbers": _numbers,
    "card_bad_luhn": _bad_luhn, "card_bad_prefix": _bad_prefix_card, "ssn_invalid": _bad_ssn,
    "iban_bad_checksum": _bad_iban, "phone_invalid": _bad_phone, "version_string": _version,
    "order_number": _order, "timestamp": _timestamp, "hash_or_uuid": _hashes, "network_lookalike": _net_lookalike,
    "email_lookalike": _email_lookalike, "secret_placeholder": _secret_lookalike, "context_lookalike": _context_lookalike,
}
NEGATIVE_LEADS = ["see {}", "ref {} attached", "we shipped {} yesterday", "{} failed twice", "compare with {}",
                  "the value {} looks odd", "({})", "logged: {}"]

CONTEXT_TYPES = {"date_of_birth", "passport", "drivers_license", "aws_secret_access_key"}

# Surroundings that are not sentences: JSON, Markdown tables, quotes, URLs, other scripts.
WRAPPERS = ['{"value": "{}", "n": 3}', "| row 7 | {} | ok |", "'{}'", "«{}»", "[{}]", "<{}>", "({})",
            "{},", "{}.", "{}!", "\n{}\n", "値: {} です", "Größe {} ok", "-> {}", "`{}`", "x={};y=2"]

FILLER = ["Can you help me with this?", "Thanks in advance.", "The dashboard shows an error since Monday.",
          "Please summarise the ticket below.", "I need this before the weekly report.",
          "Here is the context from the customer.", "Draft a polite reply.", "It worked last week.",
          "We migrated the billing service.", "Let me know what else you need.", "Urgent!",
          "The retry logic times out after 30 s.", "Version 2 of the prompt is attached.",
          "Order 1182 arrived late and the box was damaged.", "Rewrite this in a friendlier tone."]


def make_record(r: random.Random, index: int) -> dict:
    parts: list[tuple[str, str | None, str]] = []  # (text, entity type or None, raw value)
    types = list(POSITIVES)
    for _ in range(r.choice([0, 1, 1, 1, 2, 2, 3])):
        kind = r.choice(types)
        maker, leads = POSITIVES[kind]
        value = maker(r)
        # Context-only types need their words; the others also appear bare, wrapped.
        bare_ok = kind not in CONTEXT_TYPES
        lead = r.choice(leads) if not bare_ok or r.random() < 0.75 else r.choice(WRAPPERS)
        before, after = lead.split("{}")
        parts.append((before, None, ""))
        parts.append((value, kind, value))
        parts.append((after, None, ""))
    for _ in range(r.choice([0, 1, 1, 2])):
        kind = r.choice(list(NEGATIVES))
        value = NEGATIVES[kind](r)
        before, after = r.choice(NEGATIVE_LEADS).split("{}")
        parts.append((before, None, ""))
        parts.append((value, "!" + kind, value))
        parts.append((after, None, ""))
    # Shuffle whole sentences (lead + value + tail), then glue with filler text.
    sentences = [parts[i:i + 3] for i in range(0, len(parts), 3)]
    r.shuffle(sentences)
    text, entities, negatives = "", [], []
    if r.random() < 0.7:
        text = r.choice(FILLER) + " "
    for sentence in sentences:
        for chunk, kind, value in sentence:
            if kind and not kind.startswith("!"):
                entities.append({"type": kind, "start": len(text), "end": len(text) + len(chunk), "value": value})
            elif kind:
                negatives.append({"type": kind[1:], "value": value})
            text += chunk
        text += r.choice([". ", " ", "\n", "; "]) + (r.choice(FILLER) + " " if r.random() < 0.4 else "")
    return {"id": f"eval-{index:05d}", "text": text.rstrip(), "entities": entities, "negatives": negatives}


def generate(records: int = RECORDS, seed: int = SEED) -> list[dict]:
    r = random.Random(seed)
    return [make_record(r, i) for i in range(records)]


def main() -> None:
    rows = generate()
    with EVAL_SET.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for row in rows:
        for e in row["entities"]:
            counts[e["type"]] = counts.get(e["type"], 0) + 1
    negatives = sum(len(row["negatives"]) for row in rows)
    print(f"{EVAL_SET}: {len(rows)} records, {sum(counts.values())} entities, {negatives} hard negatives")
    for kind, n in sorted(counts.items()):
        print(f"  {kind:24s} {n}")


if __name__ == "__main__":
    main()
