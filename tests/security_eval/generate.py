"""Build the labelled security evaluation set: ``python tests/security_eval/generate.py``.

The texts are written by hand in dev_items.py (rules may be tuned on them),
heldout_items.py (its misses were studied once) and heldout2_items.py (never tuned
on). This script adds the variants a detector must see through, deterministically:

- *encoded*: injection payloads hidden as base64 (padded, unpadded, URL-safe) or hex
  (plain, spaced, ``\\x`` escapes) inside a wrapper sentence;
- *obfuscated*: copies of injections with homoglyphs (Cyrillic and Greek look-alikes,
  fullwidth and mathematical letters), zero-width characters between letters, or
  spaced-out letters; their label stays the category of the original;
- *hard benign variants*: benign prompts given the same obfuscations, which must stay
  benign.

Each record: id, split (dev, heldout, heldout2 or heldout3), field (prompt or response), text,
system_prompt, label (a category, or null for benign), language, obfuscation.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.security_eval import dev_items, heldout2_items, heldout3_items, heldout_items  # noqa: E402

EVAL_SET = HERE / "eval_set.jsonl"

# Hosts the evaluation treats as the deployment's own ([security] allowed_hosts).
ALLOWED_HOSTS = ["acme.com", "docs.python.org", "en.wikipedia.org", "images.unsplash.com"]

HOMOGLYPHS = {
    "a": "а", "c": "с", "e": "е", "i": "і", "o": "о", "p": "р", "s": "ѕ", "x": "х", "y": "у",
    "A": "Α", "B": "Β", "E": "Ε", "H": "Η", "I": "Ι", "K": "Κ", "M": "Μ", "N": "Ν", "O": "Ο",
    "P": "Ρ", "T": "Τ", "X": "Χ", "Z": "Ζ",
}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]


def homoglyphs(text: str, r: random.Random) -> str:
    style = r.choice(["lookalike", "lookalike", "fullwidth", "math"])
    out = []
    for ch in text:
        if style == "lookalike" and ch in HOMOGLYPHS and r.random() < 0.5:
            out.append(HOMOGLYPHS[ch])
        elif style == "fullwidth" and ch.isascii() and ch.isalpha() and r.random() < 0.6:
            out.append(chr(ord(ch) - 0x21 + 0xFF01))
        elif style == "math" and "a" <= ch <= "z" and r.random() < 0.6:
            out.append(chr(0x1D41A + ord(ch) - ord("a")))  # MATHEMATICAL BOLD SMALL
        else:
            out.append(ch)
    return "".join(out)


def zero_width(text: str, r: random.Random) -> str:
    out = []
    for i, ch in enumerate(text):
        out.append(ch)
        if ch.isalpha() and i + 1 < len(text) and text[i + 1].isalpha() and r.random() < 0.45:
            out.append(r.choice(ZERO_WIDTH))
    return "".join(out)


def spaced(text: str, r: random.Random) -> str:
    sep = r.choice([" ", ".", "-", " "])
    words = text.split(" ")
    # Space out the first clause only, as attackers do with the trigger words.
    cut = max(3, min(len(words), 6))
    head = (sep * 3 if sep == " " else " ").join(sep.join(w) for w in words[:cut])
    return head + (" " + " ".join(words[cut:]) if words[cut:] else "")


OBFUSCATIONS = {"homoglyph": homoglyphs, "zero_width": zero_width, "spaced": spaced}


def encode(payload: str, how: str) -> str:
    raw = payload.encode("utf-8")
    if how == "base64":
        return base64.b64encode(raw).decode()
    if how == "base64_unpadded":
        return base64.b64encode(raw).decode().rstrip("=")
    if how == "base64url":
        return base64.urlsafe_b64encode(raw).decode()
    if how == "hex":
        return raw.hex()
    if how == "hex_spaced":
        return " ".join(f"{b:02x}" for b in raw)
    if how == "hex_escaped":
        return "".join(f"\\x{b:02x}" for b in raw)
    raise ValueError(how)


ENCODINGS = ["base64", "hex", "base64_unpadded", "hex_spaced", "base64url", "hex_escaped"]

PROMPT_CATEGORIES = {
    "instruction_override": "INSTRUCTION_OVERRIDE",
    "jailbreak": "JAILBREAK",
    "fake_delimiter": "FAKE_DELIMITER",
    "prompt_extraction": "PROMPT_EXTRACTION",
    "indirect": "INDIRECT",
}


def records_for(split: str, items, seed: int) -> list[dict]:
    r = random.Random(seed)
    out: list[dict] = []

    def add(text, label, lang, field="prompt", obfuscation=None, system_prompt=None):
        out.append({"id": f"{split}-{len(out):04d}", "split": split, "field": field, "text": text,
                    "system_prompt": system_prompt, "label": label, "language": lang,
                    "obfuscation": obfuscation})

    for label, name in PROMPT_CATEGORIES.items():
        for text, lang in getattr(items, name):
            add(text, label, lang)
    for i, payload in enumerate(items.ENCODED_PAYLOADS):
        for k in range(2):
            how = ENCODINGS[(2 * i + k) % len(ENCODINGS)]
            wrapper = items.ENCODED_WRAPPERS[(i + 3 * k) % len(items.ENCODED_WRAPPERS)]
            add(wrapper.format(payload=encode(payload, how)), "encoded", "en", obfuscation=how)
    # Obfuscated copies of a third of the direct injections, each transform in turn.
    kinds = list(OBFUSCATIONS)
    n = 0
    for label in ("instruction_override", "jailbreak", "prompt_extraction", "fake_delimiter"):
        for j, (text, lang) in enumerate(getattr(items, PROMPT_CATEGORIES[label])):
            if j % 3 == seed % 3:
                kind = kinds[n % len(kinds)]
                n += 1
                add(OBFUSCATIONS[kind](text, r), label, lang, obfuscation=kind)
    for text, lang in items.BENIGN_PROMPTS:
        add(text, None, lang)
    for j, (text, lang) in enumerate(items.BENIGN_PROMPTS):
        if j % 7 == seed % 7:
            kind = kinds[j % len(kinds)]
            add(OBFUSCATIONS[kind](text, r), None, lang, obfuscation=kind)
    for text in items.LEAKS:
        add(text, "system_prompt_leak", "en", field="response", system_prompt=items.SYSTEM_PROMPT)
    for text in items.EXFILTRATION:
        add(text, "exfiltration", "en", field="response", system_prompt=items.SYSTEM_PROMPT)
    for text in items.BENIGN_RESPONSES:
        add(text, None, "en", field="response", system_prompt=items.SYSTEM_PROMPT)
    return out


def generate() -> list[dict]:
    return (records_for("dev", dev_items, 11) + records_for("heldout", heldout_items, 23)
            + records_for("heldout2", heldout2_items, 37) + records_for("heldout3", heldout3_items, 41))


def main() -> None:
    records = generate()
    with EVAL_SET.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    by = {}
    for rec in records:
        key = (rec["split"], rec["label"] or "benign")
        by[key] = by.get(key, 0) + 1
    for key in sorted(by):
        print(*key, by[key])
    print(len(records), "records ->", EVAL_SET)


if __name__ == "__main__":
    main()
