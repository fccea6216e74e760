"""The security scan: one vectorised DuckDB pass over prompts and responses, Python on
the texts it flags, findings returned (never written here: ``aimon.store.security``
stores them).

1. *SQL.* Every pending prompt runs through the RE2 alternations of
   ``rules.PROMPT_RXS`` (five passes, a group per injection rule; the obfuscation and
   encoded-payload triggers on the last, a pass of their own),
   every pending response through ``rules.RESPONSE_RX`` (leak phrases, links and
   images, invisible characters). Texts without a match leave DuckDB as nothing.
   Responses that share a 15-character chunk with their request's system prompt
   (chunks of each distinct system prompt, tested with ``contains``) are the
   candidates for verbatim leakage.
2. *Python, flagged texts only.* Obfuscated prompts are normalised and decoded
   payloads decoded (``normalise``), and those texts go through the same SQL again;
   ``judge`` turns the matches into one verdict per text, measures verbatim overlap
   with the system prompt, and checks link hosts against the allow-list.
3. Evidence is redacted with the PII detectors (``pii.redact_texts``) before it goes
   anywhere.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import duckdb

from aimon.analysis.security import cues as C
from aimon.analysis.security import judge as J
from aimon.analysis.security import normalise as N
from aimon.analysis.security import rules as R
from aimon.analysis.security.config import SecurityConfig
from aimon.analysis.toolkit.window import Window

# Bump when a rule or the judgement changes what is found: findings of other versions
# are dropped and the texts scanned again. (A retrained model changes the settings
# digest by itself: its file's hash is part of it.) 4: the learned model. 5: ROT13,
# URL-encoded and leetspeak payloads; Russian, Japanese, Portuguese and Italian phrasings.
# 6: second-look cues (``cues``) and decoded payloads that read as orders. 7: gate words
# in twelve more languages. 8: turn markers named in them; an order a marker delivers is
# fake_delimiter.
DETECTOR_VERSION = 8
MAX_LAYERS = 3  # decoded inside normalised inside decoded: deep enough, and bounded
LEAK_CHUNK = 15


class Field(StrEnum):
    """Request text columns the scan covers (fixed names, never user text in SQL)."""

    prompt = "prompt"
    response = "response"


def settings_digest(config: SecurityConfig) -> str:
    """What in the configuration changes text findings (abuse limits do not)."""
    from aimon.analysis.security import model as M

    text = f"{DETECTOR_VERSION}|{M.digest()}|{sorted(config.allowed_hosts)}|{config.leak_min_words}"
    if config.semantic:
        from aimon.analysis.security import semantic as SEM

        text += f"|semantic:{SEM.digest()}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _pass_expr(n: int, k: int) -> str:
    """The matches of pass ``k`` (``n`` groups) as a list of {slot, value, pass}."""
    rx, groups = ("$response_rx", "$response_groups") if k < 0 else (f"$rx{k}", f"$groups{k}")
    # Braces doubled: the query is formatted again with its source.
    expr = R.matches_sql(n, "text", rx, groups, f", 'pass': {k}").replace("{", "{{").replace("}", "}}")
    # A pass of rules that need a non-ASCII letter: NULL (skipped by list_concat) for
    # an ASCII prompt, whose byte and character counts agree.
    return f"CASE WHEN strlen(text) > length(text) THEN {expr} END" if k in R.NON_ASCII_PASSES else expr


_PROMPT_EXPR = "list_concat(" + ", ".join(_pass_expr(len(p), k) for k, p in enumerate(R.PROMPT_PASSES)) + ")"

# ``{source}`` yields (key, ts, field, text). The CASE runs each expression only on the
# rows of its field.
MATCHES_SQL = f"""
WITH src AS ({{source}}),
hit AS (
    SELECT key, ts, field, text,
           CASE WHEN field = 'response' THEN {_pass_expr(len(R.RESPONSE_PASS), -1)}
                ELSE {_PROMPT_EXPR} END AS m
    FROM src
    WHERE text IS NOT NULL
)
SELECT key, ts, field, text, m FROM hit
WHERE len(m) > 0 OR (field = 'prompt' AND $gated AND regexp_matches(text, $gate))
"""

TEXTS_SQL = """
SELECT k AS key, NULL::TIMESTAMPTZ AS ts, 'prompt' AS field, t AS text
FROM (SELECT unnest($texts) AS t, generate_subscripts($texts, 1) - 1 AS k)
"""

PENDING_SQL = """
SELECT request_id AS key, ts, '{field}' AS field, {field} AS text
FROM requests r
WHERE ts >= $start AND ts < $end {pending}
"""
NOT_SCANNED = """AND NOT EXISTS (SELECT 1 FROM security_scanned s
                    WHERE s.request_id = r.request_id AND s.field = '{field}'
                      AND s.detector_version = $version AND s.settings = $settings)"""

# Responses that share a chunk with their system prompt (aligned chunks of each distinct
# one, tested with ``contains``: an overlap of 2 x LEAK_CHUNK characters holds at least
# one). ``found`` counts the chunks found, ``opening`` says whether one of the first
# five was: what the exact (Python) comparison needs to decide.
LEAK_CANDIDATES_SQL = """
WITH src AS (
    SELECT request_id AS key, ts, response, lower(response) AS low, system_prompt
    FROM requests r
    WHERE ts >= $start AND ts < $end AND response IS NOT NULL AND length(system_prompt) >= $min_chars {pending}
), sp AS (
    SELECT system_prompt,
           list_transform(range(0, greatest(length(low) - $chunk + 1, 1), $chunk),
                          lambda i: substring(low, i + 1, $chunk)) AS chunks
    FROM (SELECT DISTINCT system_prompt, lower(system_prompt) AS low FROM src)
), tested AS (
    SELECT s.key, s.ts, s.response, s.system_prompt, len(sp.chunks) AS chunks,
           list_transform(sp.chunks, lambda c: contains(s.low, c)) AS hit
    FROM src s JOIN sp USING (system_prompt)
)
SELECT key, ts, response, system_prompt, chunks,
       len(list_filter(hit, lambda h: h)) AS found, list_bool_or(hit[1:5]) AS opening
FROM tested
WHERE list_bool_or(hit)
"""

SCANNED_KEYS_SQL = "SELECT key AS request_id, field FROM ({source})"
TABLES_SQL = """
SELECT count(*) FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = 'main'
  AND table_name IN ('security_findings', 'security_scanned')
"""


@dataclass(frozen=True)
class ScanStats:
    texts: int
    candidates: int
    findings: int
    seconds: float


@dataclass(frozen=True)
class Layer:
    """A text to match: a prompt, or its normalised or decoded form."""

    key: Any
    text: str
    depth: int
    to_origin: Callable[[int, int], tuple[int, int]]
    obfuscation: str | None = None
    decoded: bool = False


@dataclass
class _Work:
    hits: dict[Any, list[J.Hit]] = field(default_factory=dict)
    findings: list[J.Finding] = field(default_factory=list)
    meta: dict[Any, tuple[Any, str]] = field(default_factory=dict)  # key -> (ts, field)
    # key -> the prompt and its normalised and decoded forms (what the verdict reads)
    texts: dict[Any, str] = field(default_factory=dict)
    originals: dict[Any, str] = field(default_factory=dict)  # key -> the prompt as logged


_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` names (DuckDB refuses extra ones)."""
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names}


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    return con.execute(sql, _used(sql, params))


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute(TABLES_SQL).fetchall()[0][0] == 2


def pending_source(fields: Iterable[Field], *, rescan: bool, tables: bool) -> str:
    return "\nUNION ALL\n".join(
        PENDING_SQL.format(field=f.value, pending="" if rescan or not tables else NOT_SCANNED.format(field=f.value))
        for f in fields)


def pending(con: duckdb.DuckDBPyConnection, window: Window, settings: str,
            fields: Iterable[Field] = tuple(Field)) -> int:
    """How many request texts in the window this detector and settings have not scanned."""
    source = pending_source(fields, rescan=False, tables=has_tables(con))
    return _run(con, f"SELECT count(*) FROM ({source})",
                {**window.params(), "version": DETECTOR_VERSION, "settings": settings}).fetchall()[0][0]


def _match_params(gated: bool = False) -> dict[str, Any]:
    """``gated``: let prompts through that only the gate words match (the model and the
    second-look cues read them); layers of a prompt already let through are not."""
    params: dict[str, Any] = {"response_rx": R.RESPONSE_RX,
                              "response_groups": R.group_names(len(R.RESPONSE_PASS)),
                              "gated": gated, "gate": R.GATE_PATTERN}
    for k, (rx, slots) in enumerate(zip(R.PROMPT_RXS, R.PROMPT_PASSES, strict=True)):
        params[f"rx{k}"] = rx
        params[f"groups{k}"] = R.group_names(len(slots))
    return params


def _placed(text: str, matches: list[dict]) -> list[tuple[Any, int, int, str]]:
    """(slot, start, end, value) of each match, placed pass by pass (each pass's matches
    are in text order), sorted by position."""
    out = []
    for k in sorted({m["pass"] for m in matches}):
        mine = [m for m in matches if m["pass"] == k]
        slots = R.RESPONSE_PASS if k < 0 else R.PROMPT_PASSES[k]
        for m, (s, e) in zip(mine, J.place(text, [m["value"] for m in mine]), strict=True):
            out.append((slots[m["slot"]], s, e, m["value"]))
    return sorted(out, key=lambda x: (x[1], x[2]))


def match_texts(con: duckdb.DuckDBPyConnection, texts: list[str]) -> list[list[dict]]:
    """The prompt matches of each text (for normalised and decoded layers, and tests)."""
    out: list[list[dict]] = [[] for _ in texts]
    if not texts:
        return out
    rows = con.execute(MATCHES_SQL.format(source=TEXTS_SQL), {**_match_params(), "texts": texts}).fetchall()
    for key, _ts, _field, _text, m in rows:
        out[key] = m
    return out


def _named(text: str | None, how: str) -> tuple[str, str] | None:
    return (text, how) if text else None


def _prompt_layer(work: _Work, layer: Layer, matches: list[dict], origin_text: str | None) -> list[Layer]:
    """Record the rule hits of one layer; return the layers it asks for next."""
    hits: list[J.Hit] = []
    nxt: list[Layer] = []
    normalise = False
    rotated = False
    for slot, s, e, value in _placed(layer.text, matches):
        if slot == "obfuscated":
            normalise = True
        elif slot in ("encoded", "urlencoded", "rot13"):
            if slot == "rot13":
                # The whole text is rotated once (the match is only a word of it).
                decoded = None if rotated else _named(N.rot13(layer.text), "rot13")
                rotated, s, e = True, 0, len(layer.text)
            else:
                decoded = N.decode(value) if slot == "encoded" else _named(N.url_decode(value), "url")
            if decoded and layer.depth + 1 < MAX_LAYERS:
                span = layer.to_origin(s, e)
                nxt.append(Layer(layer.key, decoded[0], layer.depth + 1, lambda _a, _b, span=span: span,
                                 decoded[1], decoded=True))
        else:
            hit = J.Hit(slot, s, e, value, slot.category, slot.score, layer.obfuscation, J.around(layer.text, s, e))
            if not layer.decoded:
                # Judged where it matched (a normalised layer's own text and offsets), then
                # placed in the original text.
                hit = J.contextual(origin_text if layer.depth == 0 and origin_text else layer.text, hit)
            hits.append(replace(hit, start=layer.to_origin(s, e)[0], end=layer.to_origin(s, e)[1]))
    if layer.decoded:
        if hits and 1.0 - (1.0 - J.combined(hits)) * (1.0 - R.ENCODING_CUE) >= R.REPORT_THRESHOLD:
            hits = [J.Hit(h.rule, h.start, h.end, h.value, "encoded", max(h.score, R.REPORT_THRESHOLD),
                          layer.obfuscation, h.context) for h in hits]
        else:
            hits = _decoded_order(layer)
    elif layer.obfuscation is not None:
        direct = {(h.rule.name, h.start) for h in work.hits.get(layer.key, [])}
        hits = [h for h in hits if (h.rule.name, h.start) not in direct]
    work.hits.setdefault(layer.key, []).extend(hits)
    if layer.depth > 0 and layer.key in work.texts:
        work.texts[layer.key] += "\n" + layer.text
    if normalise and layer.obfuscation is None and layer.depth + 1 < MAX_LAYERS:
        n = N.normalise(layer.text)
        if n.kinds and n.text != layer.text:
            base = layer.to_origin
            nxt.append(Layer(layer.key, n.text, layer.depth + 1,
                             lambda a, b, n=n, base=base: base(*n.span(a, b)), "+".join(n.kinds),
                             decoded=layer.decoded))
    return nxt


def _response_row(work: _Work, key, ts, text: str, matches: list[dict], config: SecurityConfig) -> None:
    leak_hits: list[J.Hit] = []
    for rule, s, e, value in _placed(text, matches):
        if rule.category == "exfiltration_link":
            f = J.link_finding(key, ts, text, value, s, e, rule.name == "markdown_image_url", config.allowed_hosts)
        elif rule.category == "invisible_text":
            f = J.invisible_finding(key, ts, value, s, e)
        else:
            leak_hits.append(J.Hit(rule, s, e, value, rule.category, rule.score, None, J.around(text, s, e)))
            f = None
        if f is not None:
            work.findings.append(f)
    if leak_hits:
        work.hits[("leak", key)] = leak_hits
        work.meta[("leak", key)] = (ts, "response")


def _run_layers(con: duckdb.DuckDBPyConnection, work: _Work, layers: list[Layer]) -> None:
    while layers:
        found = match_texts(con, [la.text for la in layers])
        nxt: list[Layer] = []
        for la, matches in zip(layers, found, strict=True):
            if matches:
                nxt.extend(_prompt_layer(work, la, matches, None))
            elif la.decoded and la.key in work.texts:
                work.texts[la.key] += "\n" + la.text  # the model reads a payload the rules do not
                work.hits.setdefault(la.key, []).extend(_decoded_order(la))
        layers = nxt


def _decoded_order(layer: Layer) -> list[J.Hit]:
    """A decoded payload no rule matched that reads as an order: hiding it is the attack."""
    if not C.reads_as_order(layer.text):
        return []
    s, e = layer.to_origin(0, len(layer.text))
    return [J.Hit(C.DECODED_ORDER, s, e, layer.text, "encoded", R.REPORT_THRESHOLD, layer.obfuscation,
                  J.around(layer.text, 0, len(layer.text)))]


def _cues(con: duckdb.DuckDBPyConnection, work: _Work) -> None:
    """The second-look cues (``cues``) of the prompts the SQL pass let through."""
    keys = [k for k in work.originals if k in work.meta and work.meta[k][1] == "prompt"]
    for key, found in zip(keys, C.matches(con, [work.originals[k] for k in keys]), strict=True):
        text = work.originals[key]
        for cue, s, e, value in found:
            hit = J.Hit(cue, s, e, value, cue.category, cue.score, None, J.around(text, s, e))
            work.hits.setdefault(key, []).append(J.contextual(text, hit))


def _leaks(con, work: _Work, source_params: dict, pending_clause: str, config: SecurityConfig) -> None:
    phrase_keys = {k[1] for k in work.hits if isinstance(k, tuple) and k[0] == "leak"}
    sql = LEAK_CANDIDATES_SQL.format(pending=pending_clause)
    rows = _run(con, sql, {**source_params, "chunk": LEAK_CHUNK, "min_chars": 2 * LEAK_CHUNK}).fetchall()
    for key, ts, response, system_prompt, chunks, found, opening in rows:
        phrase = key in phrase_keys
        # The exact comparison only where it can find a leak (see judge.overlap_finding).
        if not (phrase or opening or found >= 6 or found >= 0.3 * chunks):
            continue
        f = J.overlap_finding(key, ts, response, system_prompt, config.leak_min_words, phrase)
        if f is not None:
            work.findings.append(f)
            # A long verbatim copy makes a weak phrase ("I was told to") count.
            hits = work.hits.get(("leak", key))
            if hits:
                work.hits[("leak", key)] = [h if h.score >= 0.5 else J.Hit(h.rule, h.start, h.end, h.value, h.category,
                                                                          0.5, None, h.context) for h in hits]


def scan(con: duckdb.DuckDBPyConnection, window: Window, config: SecurityConfig, *,
         fields: Iterable[Field] = tuple(Field), rescan: bool = False, batch: int = 20_000,
         use_model: bool = True, on_texts: Callable[[int, int], None] | None = None,
         ) -> tuple[list[J.Finding], Any, ScanStats]:
    """Findings (evidence not yet redacted) for the pending texts of the window, the
    (request_id, field) pairs scanned, as an Arrow table, and the figures of the run.
    ``use_model=False``: the rules alone (for the benchmarks' side-by-side figures);
    ``on_texts(done, total)``: the classifier's progress (``config.semantic``)."""
    began = time.perf_counter()
    fields = [Field(f) for f in fields]
    tables = has_tables(con)
    settings = settings_digest(config)
    params = {**window.params(), "version": DETECTOR_VERSION, "settings": settings}
    source = pending_source(fields, rescan=rescan, tables=tables)
    keys_sql = SCANNED_KEYS_SQL.format(source=source)
    keys = con.sql(keys_sql, params=_used(keys_sql, params)).to_arrow_table()
    work = _Work()
    candidates = 0
    layers: list[Layer] = []
    # The gate is on without the model too: the cues read what it lets through.
    result = _run(con, MATCHES_SQL.format(source=source), {**params, **_match_params(True)})
    while rows := result.fetchmany(batch):
        candidates += len(rows)
        for key, ts, fld, text, m in rows:
            if fld == "response":
                _response_row(work, key, ts, text, m, config)
                continue
            work.meta[key] = (ts, fld)
            work.texts[key] = text
            work.originals[key] = text
            if m:
                root = Layer(key, text, 0, lambda a, b: (a, b))
                layers.extend(_prompt_layer(work, root, m, text))
    _run_layers(con, work, layers)
    _cues(con, work)
    if Field.response in fields:
        clause = "" if rescan or not tables else NOT_SCANNED.format(field="response")
        _leaks(con, work, params, clause, config)
    findings = list(work.findings)
    for key, hits in work.hits.items():
        if isinstance(key, tuple) and key and key[0] == "leak":
            ts, _ = work.meta[key]
            findings.extend(J.leak_phrase_findings(key[1], ts, hits))
    findings.extend(_injections(con, work, use_model, config.semantic, on_texts))
    stats = ScanStats(texts=keys.num_rows, candidates=candidates, findings=len(findings),
                      seconds=time.perf_counter() - began)
    return findings, keys, stats


def _injections(con: duckdb.DuckDBPyConnection, work: _Work, use_model: bool,
                semantic: bool = False, on_texts: Callable[[int, int], None] | None = None) -> list[J.Finding]:
    """The injection findings of the flagged prompts: the rules' verdict unless the model
    is sure the text is benign (``veto``); the model's category where the rules have no
    verdict and the model reaches its threshold. ``semantic``: the fine-tuned classifier
    then has the last word on each of them (``semantic.overrule``)."""
    from aimon.analysis.security import model as M

    keys = list(work.texts)
    scored = M.verdicts(con, [work.texts[k] for k in keys]) if use_model and keys else []
    model = dict(zip(keys, scored, strict=True)) if scored else {}
    by_key: dict[Any, list[J.Finding]] = {}
    for key in keys:
        ts, fld = work.meta[key]
        found = J.injection_findings(key, ts, fld, work.hits.get(key, []), work.texts[key])
        if key not in model:
            by_key[key] = found
            continue
        category, attack, benign = model[key]
        if found:
            by_key[key] = found if benign < M.shipped().veto else []
        elif category is not None:
            by_key[key] = [J.model_finding(key, ts, fld, category, attack, work.originals.get(key, work.texts[key]),
                                           work.hits.get(key, []))]
    if semantic and keys:
        from aimon.analysis.security import semantic as SEM

        SEM.overrule(work, keys, by_key, on_texts)
    return [f for key in keys for f in by_key.get(key, [])]


def scan_texts(con: duckdb.DuckDBPyConnection, texts: list[str], config: SecurityConfig | None = None,
               field: Field = Field.prompt, system_prompts: list[str | None] | None = None,
               use_model: bool = True) -> list[list[J.Finding]]:
    """Findings per text for a list of strings (the evaluation set, tests)."""
    import pyarrow as pa

    config = config or SecurityConfig()
    table = pa.table({
        "request_id": pa.array([str(i) for i in range(len(texts))], pa.string()),
        "ts": pa.array([0] * len(texts), pa.timestamp("us", tz="UTC")),
        "prompt": pa.array(texts if field == Field.prompt else [None] * len(texts), pa.string()),
        "response": pa.array(texts if field == Field.response else [None] * len(texts), pa.string()),
        "system_prompt": pa.array(system_prompts or [None] * len(texts), pa.string()),
    })
    scratch = duckdb.connect()
    try:
        scratch.register("requests", table)
        from datetime import UTC, datetime, timedelta

        start = datetime(1970, 1, 1, tzinfo=UTC)
        found, _, _ = scan(scratch, Window(start, start + timedelta(seconds=1)), config, fields=[field],
                           use_model=use_model)
    finally:
        scratch.close()
    out: list[list[J.Finding]] = [[] for _ in texts]
    for f in found:
        out[int(f.key)].append(f)
    return out


def verdict_texts(con: duckdb.DuckDBPyConnection, texts: list[str]) -> list[str]:
    """Each prompt as the verdict (and the model) reads it: the text, then its normalised
    and decoded layers, one a line (what ``scan`` builds for a flagged prompt)."""
    work = _Work()
    layers: list[Layer] = []
    for key, (text, matches) in enumerate(zip(texts, match_texts(con, texts), strict=True)):
        work.texts[key] = text
        if matches:
            layers.extend(_prompt_layer(work, Layer(key, text, 0, lambda a, b: (a, b)), matches, text))
    _run_layers(con, work, layers)
    return [work.texts[k] for k in range(len(texts))]


def gated(con: duckdb.DuckDBPyConnection, texts: list[str]) -> list[bool]:
    """Whether each prompt reaches the model (a rule or trigger matched, or a gate word)."""
    out = [False] * len(texts)
    if texts:
        rows = con.execute(MATCHES_SQL.format(source=TEXTS_SQL), {**_match_params(True), "texts": texts}).fetchall()
        for key, *_ in rows:
            out[key] = True
    return out
