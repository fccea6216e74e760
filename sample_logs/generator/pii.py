"""PII planted in prompts (and echoed in a few responses), with valid checksums
where the real thing has one, plus hard negatives that look like PII but are not.
Every planted value is recorded for the ground truth."""

from . import config as C
from .util import b62, hexid, uuid4

FIRST = ["maria", "james", "aisha", "lukas", "sofia", "daniel", "priya", "tom", "elena", "kenji",
         "fatima", "oliver", "ana", "noah", "chloe", "rahul", "grace", "mateo", "lena", "samuel"]
LAST = ["garcia", "smith", "khan", "muller", "rossi", "nguyen", "patel", "obrien", "silva", "tanaka",
        "dubois", "kowalski", "jensen", "costa", "walker", "fischer", "mendes", "brown", "ivanova", "lee"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "hotmail.co.uk",
           "web.de", "northwind-legal.com", "brightpath.io", "orange.fr"]
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def email(r):
    sep = r.choice([".", "_", ""])
    num = str(r.randint(1, 99)) if r.random() < 0.4 else ""
    return f"{r.choice(FIRST)}{sep}{r.choice(LAST)}{num}@{r.choice(DOMAINS)}"


def _digits(r, n):
    return "".join(str(r.randrange(10)) for _ in range(n))


def phone(r):
    area = r.choice(["212", "415", "312", "646", "617", "206", "512"])
    line = f"01{_digits(r, 2)}"
    formats = [f"({area}) 555-{line}", f"{area}-555-{line}", f"+1 {area} 555 {line}",
               f"+1-{area}-555-{line}", f"+44 20 7946 {_digits(r, 4)}", f"+44 7700 900{_digits(r, 3)}",
               f"+49 30 {_digits(r, 8)}", f"+33 1 {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)}",
               f"+91 98{_digits(r, 3)} {_digits(r, 5)}", f"+55 11 9{_digits(r, 4)}-{_digits(r, 4)}",
               f"+34 6{_digits(r, 2)} {_digits(r, 3)} {_digits(r, 3)}"]
    k = r.randrange(len(formats))
    return formats[k], ("us" if k < 4 else "intl")


def luhn_check_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number):
    digits = [c for c in number if c.isdigit()]
    return luhn_check_digit("".join(digits[:-1])) == digits[-1]


def _card_digits(r):
    kind = r.choice(["visa", "visa", "mc", "amex"])
    if kind == "amex":
        body = r.choice(["34", "37"]) + _digits(r, 12)
    elif kind == "mc":
        body = str(r.randint(51, 55)) + _digits(r, 13)
    else:
        body = "4" + _digits(r, 14)
    return body + luhn_check_digit(body)


def _format_card(r, d):
    if len(d) == 15:
        return f"{d[:4]} {d[4:10]} {d[10:]}"
    sep = r.choice([" ", "-", ""])
    return sep.join(d[i:i + 4] for i in range(0, 16, 4))


def credit_card(r):
    return _format_card(r, _card_digits(r))


def card_bad_luhn(r):
    d = _card_digits(r)
    d = d[:-1] + str((int(d[-1]) + r.randint(1, 9)) % 10)
    return _format_card(r, d)


def ssn(r):
    area = r.randint(1, 899)
    while area == 666:
        area = r.randint(1, 899)
    return f"{area:03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"


def ssn_invalid(r):
    area = r.choice(["000", "666", str(r.randint(900, 999))])
    return f"{area}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"


def ipv4(r):
    if r.random() < 0.3:
        return f"10.{r.randint(0, 40)}.{r.randint(0, 255)}.{r.randint(2, 254)}"
    return f"{r.choice([34, 52, 81, 91, 104, 145, 185, 212])}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def ipv6(r):
    g = [f"{r.randrange(1, 65536):x}" for _ in range(6)]
    if r.random() < 0.5:
        return f"2a02:{g[0]}:{g[1]}::{g[2]}:{g[3]}"
    return f"2001:{g[0]}:{g[1]}:{g[2]}:{g[3]}:{g[4]}:{g[5]}:{r.randrange(1, 65536):x}"


def _iban_check(country, bban):
    s = bban + country + "00"
    n = int("".join(str(int(c, 36)) for c in s))
    return f"{98 - n % 97:02d}"


def iban_ok(iban):
    s = iban.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


def _bban(r):
    country = r.choice(["DE", "GB", "FR", "NL", "ES"])
    if country == "DE":
        bban = _digits(r, 18)
    elif country == "GB":
        bban = r.choice(["NWBK", "BARC", "HBUK", "LOYD"]) + _digits(r, 14)
    elif country == "FR":
        bban = _digits(r, 23)
    elif country == "NL":
        bban = r.choice(["ABNA", "INGB", "RABO"]) + _digits(r, 10)
    else:
        bban = _digits(r, 20)
    return country, bban


def _format_iban(r, s):
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4)) if r.random() < 0.6 else s


def iban(r):
    country, bban = _bban(r)
    return _format_iban(r, country + _iban_check(country, bban) + bban)


def iban_bad_checksum(r):
    country, bban = _bban(r)
    good = int(_iban_check(country, bban))
    bad = f"{(good - 2 + r.randint(1, 9)) % 97 + 2:02d}"
    return _format_iban(r, country + bad + bban)


def aws_key(r):
    return "AKIA" + "".join(r.choice(B32) for _ in range(16))


def openai_key(r):
    if r.random() < 0.5:
        return "sk-" + b62(r, 20) + "T3BlbkFJ" + b62(r, 20)
    return "sk-proj-" + b62(r, 56) + "T3BlbkFJ" + b62(r, 28)


# ---------------------------------------------------------------- hard negatives

def order_number(r):
    return r.choice([f"ORD-{r.randint(10000000, 99999999)}", f"{r.randint(1000, 9999)}-{r.randint(1000, 9999)}-{r.randint(1000, 9999)}",
                     f"INV-2026-{r.randint(100, 999999):06d}"])


def version_string(r):
    return r.choice([f"v{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 20)}",
                     f"{r.randint(1, 5)}.{r.randint(0, 40)}.{r.randint(0, 9)}-rc.{r.randint(1, 4)}",
                     f"2026.{r.randint(10, 11)}.{r.randint(1, 30)}.{r.randint(1000, 9999)}"])


def git_hash(r):
    return hexid(r, 40) if r.random() < 0.5 else hexid(r, r.choice([7, 8, 10, 12]))


def timestamp(r):
    d, h, m, s = r.randint(1, 14), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
    return r.choice([f"2026-11-{d:02d} {h:02d}:{m:02d}:{s:02d}", f"2026-11-{d:02d}T{h:02d}:{m:02d}:{s:02d}Z",
                     str(C.START_MS // 1000 + r.randrange(14 * 86400))])


PII_GEN = {"email": email, "credit_card": credit_card, "us_ssn": ssn, "ipv4": ipv4, "ipv6": ipv6,
           "iban": iban, "aws_access_key_id": aws_key, "openai_api_key": openai_key}
NEG_GEN = {"order_number": order_number, "version_string": version_string, "uuid": uuid4,
           "git_hash": git_hash, "timestamp": timestamp, "card_number_bad_luhn": card_bad_luhn,
           "ssn_invalid_range": ssn_invalid, "iban_bad_checksum": iban_bad_checksum}
