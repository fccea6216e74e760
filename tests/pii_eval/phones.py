"""A labelled set for phone numbers as people write them at home, and their near misses.

    python tests/pii_eval/phones.py            # rewrites tests/pii_eval/phones_set.jsonl
    python tests/pii_eval/phones.py --score    # precision and recall per kind

The main set (generate.py) plants phone numbers with a country code or in US format.
This one plants what it misses: national formats with no country code (UK
``020 7946 0958``, French ``01 42 68 53 00``, Japanese ``03-3211-4567``...) whose
country comes from the request's ``jurisdiction``, from the configured list
(``[pii] phone_regions``) or from the words around them, and US-formatted numbers on
area codes the numbering plan has not assigned (``(392) 555-0183``) after a phone word.
Its hard negatives are the numbers that look like them: order, invoice and ticket
numbers, tracking ids, dates, times, prices, versions, counts, and national-looking
numbers with no jurisdiction, configuration or context to place them.

Each record has a ``jurisdiction`` (or null) and a ``configured`` flag: when true, the
record is scanned with :data:`CONFIGURED` as the configured list. Values are made with
``phonenumbers`` (valid numbers, written in the country's own grouping), independently
of aimon's patterns; the file is seeded.
"""

from __future__ import annotations

import inspect
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import phonenumbers

HERE = Path(__file__).parent
PHONE_SET = HERE / "phones_set.jsonl"
SEED = 20261206
RECORDS = 900

# The configured list records with ``configured`` are scanned with.
CONFIGURED = ("GB", "FR", "JP")

# (region, national significant number prefix, digits after it); numbers are kept when valid.
NATIONAL = {
    "GB": [("207946", 4), ("1614960", 3), ("1174960", 3), ("7700900", 3), ("20", 8), ("7911", 6)],
    "FR": [("1", 8), ("4", 8), ("6", 8), ("7", 8), ("5", 8)],
    "JP": [("3", 8), ("6", 8), ("90", 8), ("80", 8), ("45", 8)],
    "DE": [("30", 8), ("89", 7), ("151", 8), ("40", 8)],
    "IT": [("6", 8), ("2", 8), ("3", 9)],
    "ES": [("91", 7), ("6", 8), ("93", 7)],
    "NL": [("20", 7), ("6", 8)],
}

# Phone words in the language of the country, and a country's name: they place a number.
CONTEXT_LEADS = {
    "GB": ["reach me at {}", "call me on {}", "my mobile is {}", "Tel: {}", "ring the London office on {}"],
    "FR": ["appelez-moi au {}", "mon portable : {}", "Tél. : {}", "vous pouvez me joindre au {}", "téléphone {}"],
    "JP": ["電話：{}", "携帯 {}", "連絡先 {}", "電話番号は{}です", "TEL {}"],
    "DE": ["Telefon: {}", "ruf mich an unter {}", "Handy {}", "Tel. {}", "erreichbar unter {}"],
    "IT": ["chiamami al {}", "telefono {}", "cellulare: {}", "call me on {}"],
    "ES": ["llámame al {}", "mi teléfono es {}", "móvil: {}", "Tel.: {}", "teléfono {}"],
    "NL": ["bel me op {}", "telefoon: {}", "call me on {}", "mobiel {}"],
}

# Lead-ins with no phone word: only the jurisdiction or the configured list places these.
BARE_LEADS = ["Office: {}", "{} (after 6pm)", "ask for Marie, {}", "| Dupont | {} | Lyon |", "Kontakt {}",
              "{}", "contact {} if it fails again", "the landlord, {}, never answers", "お問い合わせ {}", "rdv {}"]

PHONE_WORD_LEADS = ["call me at {}", "reach me at {}", "my phone is {}", "tel: {}", "Phone: {}", "text me at {}",
                    "appelez-moi au {}", "Telefon {}", "llámame al {}", "電話 {}", "call {} after 5"]

FILLER = ["Can you help me with this?", "Thanks.", "The customer wrote in again.", "Summarise the ticket.",
          "Draft a polite reply.", "It worked last week.", "Urgent!", "See the thread below."]


def _digits(r: random.Random, n: int) -> str:
    return "".join(str(r.randrange(10)) for _ in range(n))


def national_number(r: random.Random, region: str) -> str:
    """A valid number of ``region`` in its national format (trunk prefix, own grouping)."""
    while True:
        prefix, n = r.choice(NATIONAL[region])
        number = phonenumbers.parse(prefix + _digits(r, n), region)
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def us_unassigned(r: random.Random) -> str:
    """A US-formatted number on an area code the plan has not assigned: well formed, not valid."""
    while True:
        area = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}"
        if area[1:] == "11":
            continue
        exch, line = str(r.randint(200, 999)), _digits(r, 4)
        number = phonenumbers.parse(area + exch + line, "US")
        if phonenumbers.is_valid_number(number) or not phonenumbers.is_possible_number(number):
            continue
        return r.choice([f"({area}) {exch}-{line}", f"{area}-{exch}-{line}", f"{area}.{exch}.{line}",
                         f"({area}) 555-01{_digits(r, 2)}"])


def _date(r: random.Random) -> str:
    y, m, d = r.randint(2020, 2027), r.randint(1, 12), r.randint(1, 28)
    return r.choice([f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}-{m:02d}-{y}",
                     f"{y}/{m:02d}/{d:02d}", f"0{r.randint(1, 9)} {r.randint(10, 12)} {y}"])


def negative(r: random.Random) -> tuple[str, str, str | None]:
    """(kind, text, jurisdiction) of a look-alike that is not a phone number."""
    region = r.choice(["GB", "FR", "JP", "DE", None])
    kind = r.choice(["order_number", "invoice_number", "tracking_id", "date", "time", "price", "version", "count",
                     "unplaced_national", "phone_word_not_a_number", "id_after_phone_word"])
    d = lambda n: _digits(r, n)  # noqa: E731
    if kind == "order_number":
        text = r.choice([f"order 0{d(3)} {d(4)} {d(4)}", f"commande n° 0{d(1)} {d(2)} {d(2)} {d(2)} {d(2)}",
                         f"Bestellnummer 0{d(2)} {d(8)}", f"order #0{d(9)}", f"注文番号 0{d(1)}-{d(4)}-{d(4)}",
                         f"ORD-0{d(2)}-{d(4)}-{d(4)}"])
    elif kind == "invoice_number":
        text = r.choice([f"invoice 0{d(3)}-{d(3)}-{d(4)}", f"facture 0{d(1)} {d(2)} {d(2)} {d(2)} {d(2)}",
                         f"Rechnung Nr. 0{d(3)}/{d(6)}", f"INV 0{d(2)} {d(4)} {d(4)}", f"ref. 0{d(1)}-{d(4)}-{d(4)}"])
    elif kind == "tracking_id":
        text = r.choice([f"tracking 0{d(3)} {d(4)} {d(4)} {d(4)}", f"colis 0{d(2)} {d(3)} {d(3)} {d(3)}",
                         f"Sendungsnummer 0{d(3)} {d(4)} {d(4)}", f"ticket 0{d(2)}-{d(4)}-{d(4)}",
                         f"case 0{d(3)} {d(3)} {d(4)}"])
    elif kind == "date":
        text = r.choice(["call me on {}", "rdv le {}", "Termin am {}", "due {}", "{}", "téléphone le {}"]).format(_date(r))
    elif kind == "time":
        text = r.choice([f"call at 0{r.randint(7, 9)}:{d(1)}0-1{r.randint(0, 9)}:{r.randint(0, 5)}0",
                         f"Tel. 08.30 - 12.00 und 14.00 - 1{r.randint(6, 8)}.00", "電話 09:00〜18:00"])
    elif kind == "price":
        text = r.choice([f"€ 0{d(1)} {d(3)},{d(2)}", f"call costs £0.{d(2)} per minute", f"phone bill 0{d(2)} {d(3)},{d(2)} €",
                         f"¥ 0{d(2)},{d(3)}", f"Tel. pro Minute 0,{d(2)} EUR"])
    elif kind == "version":
        text = r.choice([f"v0.{d(2)}.{d(1)}", f"build 0{d(1)}.{d(2)}.{d(4)}", f"release 0{d(1)}-{d(2)}-{d(4)}"])
    elif kind == "count":
        text = r.choice([f"0{d(2)} {d(3)} {d(3)} tokens", f"{d(3)} {d(3)} {d(4)} bytes", f"phone 0{d(1)} of 1{d(1)}"])
    elif kind == "unplaced_national":
        # Well formed somewhere, but nothing says where: no jurisdiction, no list, no word.
        region = None
        text = r.choice(["see {}", "ref {} attached", "logged: {}", "({})", "{} failed twice"]).format(
            national_number(r, r.choice(["GB", "FR", "JP", "DE"])))
    elif kind == "phone_word_not_a_number":
        text = r.choice([f"call me at 123-456-{d(4)}", f"phone: (000) {d(3)}-{d(4)}", f"tel 0{d(3)}",
                         f"call me at 555-{d(4)}", f"phone 1-{d(3)}", "my phone is 0000 000 000"])
    else:
        text = r.choice([f"call about order 0{d(3)} {d(4)} {d(4)}", f"phone order ref 0{d(2)}-{d(4)}-{d(4)}",
                         f"Tel. Kundennummer 0{d(3)} {d(6)}", f"call ticket #{d(3)}-{d(3)}-{d(4)}",
                         f"phone invoice 0{d(1)} {d(2)} {d(2)} {d(2)} {d(2)}"])
    return kind, text, region


def make_record(r: random.Random, index: int) -> dict:
    """One text with at most one planted phone and up to two near misses."""
    choice = r.random()
    jurisdiction, configured, planted = None, False, None
    if choice < 0.22:  # bare national number, placed by the request's jurisdiction
        region = r.choice(list(NATIONAL))
        jurisdiction = r.choice([region, region.lower(), "UK" if region == "GB" else region])
        planted = ("national_by_jurisdiction", national_number(r, region), r.choice(BARE_LEADS))
    elif choice < 0.34:  # bare national number, placed by the configured list
        configured = True
        planted = ("national_by_configured_list", national_number(r, r.choice(CONFIGURED)), r.choice(BARE_LEADS))
    elif choice < 0.58:  # national number after a phone word in its language
        region = r.choice(list(NATIONAL))
        planted = ("national_by_context_words", national_number(r, region), r.choice(CONTEXT_LEADS[region]))
    elif choice < 0.74:  # US format, unassigned area code, after a phone word
        planted = ("us_unassigned_after_phone_word", us_unassigned(r), r.choice(PHONE_WORD_LEADS))
    elif r.random() < 0.3:
        jurisdiction = r.choice(["GB", "FR", "JP", "DE", "EU"])
    parts: list[tuple[str, str | None, str]] = []
    if planted:
        kind, value, lead = planted
        before, after = lead.split("{}")
        parts.append((before, None, ""))
        parts.append((value, kind, value))
        parts.append((after, None, ""))
    negatives = []
    for _ in range(r.choice([0, 1, 1, 2]) if planted else r.choice([1, 1, 2])):
        kind, text, region = negative(r)
        while kind == "unplaced_national" and (planted or jurisdiction or configured):
            kind, text, region = negative(r)  # a national number in a placed record is a phone
        if kind == "unplaced_national":
            configured = None  # nothing may place it: no jurisdiction from the next near miss either
        elif not planted and jurisdiction is None and configured is False and region is not None:
            jurisdiction = region
        parts.append((r.choice(FILLER) + " ", None, ""))
        parts.append((text, "!" + kind, text))
        parts.append((".", None, ""))
    sentences = [parts[i:i + 3] for i in range(0, len(parts), 3)]
    r.shuffle(sentences)
    text, entities = "", []
    for sentence in sentences:
        for chunk, kind, value in sentence:
            if kind and not kind.startswith("!"):
                entities.append({"type": "phone", "kind": kind, "start": len(text), "end": len(text) + len(chunk),
                                 "value": value})
            elif kind:
                negatives.append({"type": kind[1:], "value": value})
            text += chunk
        text += r.choice([" ", "\n", " "])
    return {"id": f"phone-{index:05d}", "jurisdiction": jurisdiction, "configured": bool(configured),
            "text": text.strip(), "entities": entities, "negatives": negatives}


def generate(records: int = RECORDS, seed: int = SEED) -> list[dict]:
    r = random.Random(seed)
    return [make_record(r, i) for i in range(records)]


def load(path: Path = PHONE_SET) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@dataclass(frozen=True)
class KindScore:
    kind: str
    items: int   # planted phones of this kind, or near misses of this kind
    hits: int    # phones found (recall), or near misses reported as anything (false positives)


def _scan(records: list[dict]) -> list[list]:
    """Validated findings per record, each scanned with its jurisdiction and (when the
    record says so) the configured list; without those parameters (an aimon before
    they existed) the texts alone."""
    import duckdb

    from aimon.analysis.pii import scan as pii_scan

    con = duckdb.connect()
    texts = [r["text"] for r in records]
    if "hints" not in inspect.signature(pii_scan.scan_texts).parameters:
        return pii_scan.scan_texts(con, texts)
    out: list[list] = [[] for _ in records]
    for configured in (False, True):
        idx = [i for i, r in enumerate(records) if r["configured"] == configured]
        found = pii_scan.scan_texts(con, [texts[i] for i in idx], hints=[records[i]["jurisdiction"] for i in idx],
                                    configured=CONFIGURED if configured else ())
        for i, f in zip(idx, found, strict=True):
            out[i] = f
    return out


def evaluate(records: list[dict] | None = None) -> dict:
    """Recall per planted kind, false positives per near-miss kind, and phone precision
    and recall overall (a finding of any type on a near miss is a false positive)."""
    records = records if records is not None else load()
    found = _scan(records)
    planted: dict[str, list[int]] = {}
    misses: dict[str, list[int]] = {}
    tp = fp = low = 0
    for rec, findings in zip(records, found, strict=True):
        spans = [(f.start, f.end, f) for f in findings]
        for e in rec["entities"]:
            hit = any(f.entity_type == "phone" and s < e["end"] and e["start"] < t for s, t, f in spans)
            planted.setdefault(e["kind"], [0, 0])
            planted[e["kind"]][0] += 1
            planted[e["kind"]][1] += hit
        for n in rec["negatives"]:
            start = rec["text"].find(n["value"])
            end = start + len(n["value"])
            hit = any(s < end and start < t for s, t, _ in spans)
            misses.setdefault(n["type"], [0, 0])
            misses[n["type"]][0] += 1
            misses[n["type"]][1] += hit
        for s, t, f in spans:
            if any(f.entity_type == "phone" and s < e["end"] and e["start"] < t for e in rec["entities"]):
                tp += 1
                low += getattr(f, "confidence", "high") == "low"
            else:
                fp += 1
    n_planted = sum(v[0] for v in planted.values())
    found_planted = sum(v[1] for v in planted.values())
    return {"planted": {k: KindScore(k, *v) for k, v in sorted(planted.items())},
            "negatives": {k: KindScore(k, *v) for k, v in sorted(misses.items())},
            "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": found_planted / n_planted if n_planted else 1.0,
            "true_positives": tp, "false_positives": fp, "low_confidence": low}


def table(result: dict) -> str:
    lines = ["| planted kind | planted | found | recall |", "|---|---:|---:|---:|"]
    for s in result["planted"].values():
        lines.append(f"| {s.kind} | {s.items} | {s.hits} | {s.hits / s.items:.3f} |")
    lines += ["", "| near-miss kind | negatives | reported (false positives) |", "|---|---:|---:|"]
    for s in result["negatives"].values():
        lines.append(f"| {s.kind} | {s.items} | {s.hits} |")
    lines += ["", f"phone precision {result['precision']:.3f} ({result['true_positives']} true, "
                  f"{result['false_positives']} false positives), recall {result['recall']:.3f}; "
                  f"{result['low_confidence']} true positives at low confidence"]
    return "\n".join(lines) + "\n"


def main() -> None:
    if "--score" in sys.argv:
        print(table(evaluate()))
        return
    rows = generate()
    with PHONE_SET.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{PHONE_SET}: {len(rows)} records, {sum(len(r['entities']) for r in rows)} phones, "
          f"{sum(len(r['negatives']) for r in rows)} near misses")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    main()
