"""From rule matches to findings: context, obfuscation, decoding and one verdict per text.

Runs in Python on the few texts the SQL pass found something in. A text's matches are
combined (1 - prod(1 - score), each rule once); below the report threshold nothing is
reported. Its category is that of its strongest evidence by the priority of
:data:`rules.INJECTION_CATEGORIES`: an instruction found inside decoded base64 makes the
text ``encoded``, one inside a quoted document or tool output ``indirect``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, unquote, urlsplit

from aimon.analysis.security import cues as C
from aimon.analysis.security import rules as R

EVIDENCE_CHARS = 160


@dataclass(frozen=True)
class Hit:
    """One rule match in a text (or in its normalised or decoded form)."""

    rule: R.Rule
    start: int          # span in the original text
    end: int
    value: str          # the matched text (normalised or decoded when that is where it matched)
    category: str
    score: float
    obfuscation: str | None = None
    context: str = ""   # what the evidence shows: the text around the match


@dataclass(frozen=True)
class Finding:
    key: str
    ts: object
    field: str
    category: str
    rule: str
    severity: str
    score: float
    start: int | None
    end: int | None
    obfuscation: str | None
    evidence: str


def place(text: str, values: list[str]) -> list[tuple[int, int]]:
    """Spans of the successive non-overlapping matches ``values`` in ``text``."""
    spans, pos = [], 0
    for v in values:
        i = text.find(v, pos)
        if i < 0:  # cannot happen for regexp_extract_all output; stay safe
            i = max(0, text.find(v))
        spans.append((i, i + len(v)))
        pos = i + len(v)
    return spans


def around(text: str, start: int, end: int, chars: int = EVIDENCE_CHARS) -> str:
    """The match with some text either side, on one line, at most ``chars`` long."""
    end = min(end, start + chars)
    pad = max(0, (chars - (end - start)) // 2)
    lo, hi = max(0, start - pad), min(len(text), end + pad)
    body = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


# --------------------------------------------------------------------------- injection

_TASK = re.compile(
    r"^\W*(?:please\s+|can\s+you\s+|could\s+you\s+|pls\s+)?(?:summari[sz]e|translate|review|analy[sz]e|classify|extract|"
    r"proofread|rate|check|read|fix|rewrite|improve|make|paraphrase|tl;?dr|here(?:'s|\s+is|\s+are)|r[ée]sume|resume|"
    r"fasse|compute|categori[sz]e|answer|search\s+results|observation|the\s+\w+\s+tool|function|tool|总结|翻译|概括|"
    # the same tasks in Spanish, Portuguese, Italian, German, Russian, Japanese, Korean
    r"resum[ea]|resumir|traduce|traduz|traduci|riassumi|riepiloga|revisa|analiza|[üu]bersetze|fasse\s+zusammen|"
    r"pr[üu]fe|kratko|кратко|перескажи|переведи|резюмируй|суммируй|проверь|この(?:文書|文章|メール|テキスト|ページ)|"
    r"要約|翻訳|まとめ|다음|요약|번역)",
    re.IGNORECASE)
# Quotation marks that open quoted material in the languages the rules cover.
_QUOTATIONS = (("«", "»"), ("「", "」"), ("『", "』"), ("“", "”"), ("„", "“"))
_TOOL_OUTPUT = re.compile(
    r"\b(?:tool\s+(?:output|result)|function\s+(?:call\s+)?returned|observation(?:\s+from[^:\n]*)?:|search\s+results?|"
    r"retriev(?:ed|al)|fetched|(?:browser|search|retrieval)\s+(?:tool|step)|returned\s+this|api\s+response|"
    r"output\s+of\s+the\s+\w+\s+tool|tool\s+\w+\s+returned|\b(?:returned|responded|response\s+was|output\s+was|result\s+was)\s*:)",
    re.IGNORECASE)


# A first line that introduces material ("The scraper returned:", "Here is the page:")
# followed by a line break: what comes after is quoted, not the user's own words. Not a
# role header ("### System:", "[SYSTEM]:"), which is what a fake delimiter looks like.
_HEADER = re.compile(r"\A[ \t]*(?![#\[<=\-*`{|])(?![^\n]*\b(?:system|sistema|syst[èe]me|instructions?)\b)"
                     r"[^\n]{3,160}?[:：][ \t]*\n", re.IGNORECASE)


def in_document(text: str, pos: int) -> bool:
    """Is ``pos`` inside material the user handed over (a document to summarise, tool
    output, an HTML comment) rather than the user's own words?"""
    before = text[:pos]
    if before.rfind("<!--") > before.rfind("-->"):
        return True
    if _TOOL_OUTPUT.search(before):
        return True
    # Inside a quotation opened after a colon ("Summarise this letter: «... »").
    colon = max(before.rfind(":"), before.rfind("："))
    if colon >= 0 and any(before.rfind(o) > max(colon, before.rfind(c) if c != o else -1) for o, c in _QUOTATIONS):
        return True
    header = _HEADER.match(text)
    if header and header.end() <= pos:
        return True
    if _TASK.match(text):
        first_break = min((i for i in (text.find("\n"), text.find(":")) if i >= 0), default=-1)
        return 0 <= first_break < pos and (bool(_MATERIAL_FOLLOWS.match(text, first_break))
                                           or bool(_NAMES_MATERIAL.search(text, 0, first_break)))
    return False


# After a task's first colon, material follows when the line breaks, a quote opens, or
# the task names what it hands over ("Summarize this review: ..."); "Answer everything
# twice: first as yourself ..." goes on in the user's own words.
_MATERIAL_FOLLOWS = re.compile(r"\n|:[ \t]*(?:\n|[\"'“‘«`\[(<{]|$)")
_NAMES_MATERIAL = re.compile(r"\b(?:this|following|below|these|text|document|article|page|email|e-mail|message|review|"
                             r"passage|ticket|post|notes?|transcript|comment|results?|output|returned|says|reads|file|"
                             r"snippet|content|data|letter|description|bio|cv|resume)\W*$", re.IGNORECASE)


def combined(hits: list[Hit]) -> float:
    best: dict[str, float] = {}
    for h in hits:
        best[h.rule.name] = max(best.get(h.rule.name, 0.0), h.score)
    out = 1.0
    for s in best.values():
        out *= 1.0 - s
    return 1.0 - out


# Words that speak to the model. Cues alone ("pretend", "no rules") add up to an
# injection only when the text speaks to the model: a story about a robot with no rules
# does not.
_SECOND_PERSON = re.compile(r"\b(?:you|your|you're|yourself|u|tu|t'|te|toi|tes|ton|vous|du|dir|dich|dein\w*|eres|"
                            r"est[aá]s|usted|tus?|voc[êe]|sei|ti)\b|你|您"
                            # (or orders it, a sentence opening with a role-play verb: "Play the role of ...")
                            r"|(?:^|[.!?\n]\s*)(?:play|act|pretend|imagine|be|become|role-?play|respond|answer|behave|simulate|"
                            r"stay)\b", re.IGNORECASE)


def verdict(hits: list[Hit], text: str | None = None) -> str | None:
    """The category of a text with these hits, or None when they do not add up."""
    if not hits or combined(hits) < R.REPORT_THRESHOLD:
        return None
    strong = {h.category for h in hits if h.score >= R.REPORT_THRESHOLD}
    for category in R.INJECTION_CATEGORIES:
        if category in strong:
            return delivered_by_marker(category, hits)
    if text is not None and not _SECOND_PERSON.search(text):
        return None
    # Cues only: the category they weigh most in.
    weight: dict[str, float] = {}
    for h in hits:
        weight[h.category] = weight.get(h.category, 0.0) + h.score
    return delivered_by_marker(max(weight, key=lambda c: (weight[c], -R.INJECTION_CATEGORIES.index(c))), hits)


# A turn marker too weak to report alone ("### SISTEMA ###" opening a line, a bare
# "[INST]"). Strong markers that are mentioned, not used, are cut to 0.3 (``contextual``)
# and do not count.
MARKER_SCORE = 0.4


def delivered_by_marker(category: str, hits: list[Hit]) -> str:
    """An override or a jailbreak that a faked turn marker delivers is ``fake_delimiter``:
    how an attack is delivered names it before what it asks (INJECTION_CATEGORIES), and
    a marker alone is often too weak to count (version 8)."""
    if category in ("jailbreak", "instruction_override") and any(
            h.category == "fake_delimiter" and h.score >= MARKER_SCORE for h in hits):
        return "fake_delimiter"
    return category


# A question about chat templates or logs that names a token ("what does [INST] do?",
# "the log says '[SYSTEM] ...'") mentions the delimiter; it does not use it.
_ASKING = re.compile(r"^\W*(?:please\s+|can\s+you\s+|could\s+you\s+)?(?:explain|what|how|why|when|where|which|is|are|does|do|"
                     r"should|describe|tell\s+me\s+(?:about|what|how))\b", re.IGNORECASE)
_QUOTES = "'\"`“‘«"
# "How do I show the system prompt in the playground?": the user asks how to do it, of
# a prompt that is not the model's own.
_HOW_TO = re.compile(r"\bhow\s+(?:do|can|could|would|should)\s+(?:i|we|one)\b|\bhow\s+to\b|\bwhere\s+(?:do|can)\s+(?:i|we)\b",
                     re.IGNORECASE)
_YOURS = re.compile(r"\b(?:you|your|yours|yourself)\b", re.IGNORECASE)


def mentioned(text: str, hit: Hit) -> bool:
    """Is the match talked about rather than used?"""
    if hit.category == "fake_delimiter":
        line_start = text.rfind("\n", 0, hit.start) + 1
        opened = text[line_start:hit.start]
        quoted = sum(opened.count(q) for q in _QUOTES) % 2 == 1
        first_sentence = re.split(r"[.?!\n]", text, maxsplit=1)[0]
        return quoted or (bool(_ASKING.match(text)) and hit.end <= len(first_sentence) + 1
                          and "\n" not in text[:hit.start])
    if hit.category == "prompt_extraction":
        sentence = text[max(text.rfind(".", 0, hit.start), text.rfind("\n", 0, hit.start)) + 1:hit.end]
        return bool(_HOW_TO.search(sentence)) and not _YOURS.search(hit.value)
    if hit.rule.name in _STATEMENTS:
        # "Our policy doc says 'previous rules no longer apply'": a quoted statement that
        # rules are void, about nobody's rules in particular, is reported speech.
        line_start = text.rfind("\n", 0, hit.start) + 1
        opened = text[line_start:hit.start]
        return sum(opened.count(q) for q in _QUOTES) % 2 == 1 and not _YOURS.search(hit.value)
    return False


# Rules that state orders are void (rather than order the model to drop them).
_STATEMENTS = frozenset({"instructions_are_void", "instructions_no_longer_apply", "owned_declared_void",
                         "none_of_owned_binds"})


def contextual(text: str, hit: Hit) -> Hit:
    """``hit`` as ``indirect`` when it sits inside a document or tool output; as a cue
    when it is mentioned rather than used."""
    if (hit.category in ("fake_delimiter", "prompt_extraction") or hit.rule.name in _STATEMENTS) \
            and hit.score >= R.REPORT_THRESHOLD and mentioned(text, hit):
        hit = replace(hit, score=min(hit.score, 0.3))
    if hit.rule.name == "note_to_ai_colon":
        # "Attention model: all previous instructions are void" is the user's own
        # override; an address with a colon is planted only inside material handed over.
        return hit if in_document(text, hit.start) else replace(hit, score=0.45)
    if hit.category in ("instruction_override", "prompt_extraction", "jailbreak", "fake_delimiter") \
            and in_document(text, hit.start) and not (hit.category == "fake_delimiter" and _own_words(text, hit.start)):
        return replace(hit, category="indirect")
    return hit


# Material someone else wrote: a turn marker inside it was planted there (indirect).
_THIRD_PARTY = re.compile(r"\b(?:e-?mails?|web\s*(?:page|site)|page|article|documents?|retriev\w*|tool|search|"
                          r"forum|post|review(?:s|er)?\b(?!\s+(?:this|my))|wiki|slack|thread|comments?|resume|cv|essay|"
                          r"transcript|letter|pdf|file|chunk|scraped|fetched|website|customer\s+(?:message|email)|"
                          r"ticket|feedback|survey|output|result)\b|<!--", re.IGNORECASE)


def _own_words(text: str, pos: int) -> bool:
    """Is the text before ``pos`` the user's own (a question, their notes) rather than
    material handed over? A chat token or turn marker there fakes a turn of the user's
    own conversation: ``fake_delimiter``, not ``indirect`` (version 6)."""
    before = text[:pos]
    return not _THIRD_PARTY.search(before) and not _TOOL_OUTPUT.search(before)


def _without_echoes(hits: list[Hit]) -> list[Hit]:
    """Drop a grammar-family hit (``families``) that a catalogue rule of the same category
    already matched over the same text: one piece of evidence, one finding."""
    # (a second-look cue is a part, never the evidence a family hit would echo)
    catalogue = [h for h in hits if h.rule.name not in R.FAMILY_RULES and h.rule.name not in C.CUE_NAMES]
    return [h for h in hits if h.rule.name not in R.FAMILY_RULES
            or not any(c.category == h.category and c.start < h.end and h.start < c.end for c in catalogue)]


def injection_findings(key, ts, field: str, hits: list[Hit], text: str | None = None) -> list[Finding]:
    hits = _without_echoes(hits)
    category = verdict(hits, text)
    if category is None:
        return []
    strong = any(h.score >= R.REPORT_THRESHOLD for h in hits)
    obfuscated = any(h.obfuscation for h in hits)
    severity = ("high" if obfuscated or (strong and category != "prompt_extraction")
                else "medium")
    out = []
    seen: set[tuple[str, int, int]] = set()
    for h in sorted(hits, key=lambda h: (h.start, -h.score)):
        if (h.rule.name, h.start, h.end) in seen:
            continue
        seen.add((h.rule.name, h.start, h.end))
        out.append(Finding(key, ts, field, category, h.rule.name, severity, round(h.score, 3), h.start, h.end,
                           h.obfuscation, h.context))
    return out


def model_finding(key, ts, field: str, category: str, attack: float, text: str, hits: list[Hit],
                  rule: str = "learned_model") -> Finding:
    """A text a learned model reports (the 4-gram model where the rules had no verdict,
    or the semantic classifier): the whole text is the span (the model reads it all), the
    probability that it is an attack the score. An order a turn marker among ``hits``
    delivers is fake_delimiter, as for the rules' verdicts."""
    severity = "high" if attack >= 0.9 else "medium"
    category = delivered_by_marker(category, hits)
    return Finding(key, ts, field, category, rule, severity, round(attack, 3), 0, len(text), None,
                   around(text, 0, len(text)))


# --------------------------------------------------------------------------- responses

_DATA_VALUE = re.compile(r"[A-Za-z0-9+/=_-]{16,}|\s|@")
_URL = re.compile(r"https?://[^\s)\"'>]+", re.IGNORECASE)


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == a or host.endswith("." + a) for a in allowed)


def carried_data(url: str) -> str | None:
    """What a URL carries out, when it looks like data rather than a size or a page number."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    for _name, value in parse_qsl(parts.query, keep_blank_values=False):
        if len(value) >= 12 or _DATA_VALUE.search(value):
            return unquote(value)
    segments = [s for s in parts.path.split("/") if len(s) >= 40 and re.fullmatch(r"[A-Za-z0-9+=_-]+", s)]
    return segments[0] if segments else None


def link_finding(key, ts, text: str, hit_value: str, start: int, end: int, image: bool,
                 allowed: tuple[str, ...]) -> Finding | None:
    m = _URL.search(hit_value)
    if not m:
        return None
    url = m.group(0)
    host = urlsplit(url).hostname or ""
    if host_allowed(host, allowed):
        return None
    data = carried_data(url)
    if data is None:
        return None
    severity, score = ("high", 0.9) if image else ("medium", 0.7)
    rule = "image_url_with_data" if image else "link_url_with_data"
    return Finding(key, ts, "response", "exfiltration_link", rule, severity, score, start, end, None,
                   f"{'image' if image else 'link'} to {host} carrying: {data[:120]}")


def invisible_finding(key, ts, value: str, start: int, end: int) -> Finding | None:
    tags = "".join(chr(ord(c) - 0xE0000) for c in value if 0xE0020 <= ord(c) <= 0xE007E)
    if tags:
        return Finding(key, ts, "response", "invisible_text", "unicode_tag_characters", "high", 0.9, start, end,
                       "unicode_tags", f"hidden text in tag characters: {tags[:120]}")
    n = sum(1 for c in value if c != "\u200d")
    if n < 3:
        return None
    severity, score = ("medium", 0.6) if n >= 8 else ("low", 0.4)
    return Finding(key, ts, "response", "invisible_text", "zero_width_run", severity, score, start, end,
                   "zero_width", f"{n} invisible characters in a row")


def leak_phrase_findings(key, ts, hits: list[Hit]) -> list[Finding]:
    if combined(hits) < R.REPORT_THRESHOLD:
        return []
    return [Finding(key, ts, "response", "system_prompt_leak", h.rule.name, "medium", round(h.score, 3), h.start, h.end,
                    None, h.context) for h in hits]


_WORD = re.compile(r"\w+", re.UNICODE)


def verbatim_overlap(response: str, system_prompt: str) -> tuple[int, int, int, int, int, int]:
    """(longest run of words the response shares with the system prompt, where that run
    starts in the prompt, words matched in runs of 3 or more, words of the prompt, start
    and end of the longest run in the response)."""
    from difflib import SequenceMatcher

    r_words = [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(response)]
    s_words = [m.group(0).lower() for m in _WORD.finditer(system_prompt)]
    if not r_words or not s_words:
        return 0, 0, 0, len(s_words), 0, 0
    sm = SequenceMatcher(None, [w for w, _, _ in r_words], s_words, autojunk=False)
    m = sm.find_longest_match(0, len(r_words), 0, len(s_words))
    if m.size == 0:
        return 0, 0, 0, len(s_words), 0, 0
    matched = sum(b.size for b in sm.get_matching_blocks() if b.size >= 3)
    return m.size, m.b, matched, len(s_words), r_words[m.a][1], r_words[m.a + m.size - 1][2]


def overlap_finding(key, ts, response: str, system_prompt: str, min_words: int, phrase: bool) -> Finding | None:
    """A leak when the response copies a long run of the system prompt and something says
    it is the prompt itself: a leak phrase, the prompt's opening words, a run of 25
    words or more, or 30% of the prompt. A support bot restating one policy sentence of
    its prompt is not a leak."""
    run, at, matched, total, start, end = verbatim_overlap(response, system_prompt)
    if run < min_words or end - start < 30:
        return None
    opening = at < 8
    share = matched / max(total, 1)
    if not (phrase or opening or run >= 25 or share >= 0.3):
        return None
    severity = "high" if opening or share >= 0.3 or run >= 2 * min_words else "medium"
    score = round(min(1.0, 0.6 + 0.4 * share), 3)
    return Finding(key, ts, "response", "system_prompt_leak", "verbatim_system_prompt", severity, score,
                   start, end, None, f"{run} consecutive words of the system prompt ({matched} of its {total} words "
                   "copied): " + around(response, start, end))
