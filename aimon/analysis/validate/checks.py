"""The checks of ``aimon validate`` and the one SQL pass that runs them.

Each check has a bit (its position in :data:`CHECKS`), a version (bump it when its
verdicts change: its results are recomputed) and the settings its results depend on.
The pass reads each pending response once and computes every check as a CASE on the
rows that need it; only texts that may fail go further (a 400-character prefix for
word counts, expressions anchored at the end for an unfinished sentence, a 16- and a
40-character probe for a loop, ``string_split`` on single characters for brackets). Python sees
only candidates: loops to measure, JSON to check against a schema, and prompt/response
pairs whose languages a maintained identifier must name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    version: int
    settings: tuple[str, ...]  # config keys its results depend on (see config.Loaded.digest)
    description: str


CHECKS: tuple[Check, ...] = (
    Check("non_empty", 1, (), "the response is missing or blank"),
    Check("too_short", 1, ("min_words", "endpoints"), "fewer words than the endpoint's min_words"),
    Check("too_long", 1, ("max_words", "endpoints"), "more words than the endpoint's max_words"),
    Check("repetition", 1, ("repetition_share",), "a degenerate loop: repeated sentences or word sequences"),
    Check("unbalanced", 1, (), "unbalanced brackets, double quotes or code fences"),
    Check("invalid_json", 1, ("endpoints", "schemas"), "not JSON (or not valid against the schema) where the "
                                                       "endpoint must answer JSON"),
    Check("refusal", 1, (), "\"I can't help with that\" and its family, in several languages"),
    Check("truncated", 1, (), "stopped by the token limit, or ends mid-sentence"),
    Check("language_mismatch", 1, (), "the response is in another language than the prompt"),
    Check("off_topic", 1, ("off_topic_threshold",), "prompt and response embeddings further apart than the "
                                                    "threshold"),
)
BIT = {c.name: 1 << i for i, c in enumerate(CHECKS)}
ALL = sum(BIT.values())
BY_NAME = {c.name: c for c in CHECKS}

def enough_words_rx(n: int) -> str:
    """An anchored expression for a text that opens with at least ``n`` words."""
    return "^" if n <= 0 else r"^\s*(?:\S+\s+){" + str(min(n, 200) - 1) + r"}\S"


# A word: a run of non-space characters, or one CJK character (those scripts do not
# put spaces between words).
WORD_RX = r"[\p{Han}\p{Hiragana}\p{Katakana}]|[^\s\p{Han}\p{Hiragana}\p{Katakana}]+"
SHORT_PREFIX = 400

REFUSAL_RX = (
    r"(?i)^\W{0,3}(?:(?:i'?m|i\s+am)\s+(?:so\s+|very\s+|really\s+)?sorry,?\s+(?:but\s+)?i\s+(?:can(?:no|')?t|cannot|won'?t|am\s+"
    r"(?:not\s+able|unable))|i\s+(?:can(?:no|')?t|cannot|won'?t|am\s+(?:not\s+able|unable)\s+to|'m\s+(?:not\s+able|unable)\s+to|"
    r"must\s+decline|(?:have\s+to|need\s+to)\s+decline)\s+(?:help|assist|provide|do|comply|fulfil|fulfill|share|answer|"
    r"support|generate|create|write|continue|engage|discuss|take\s+on|give|reveal|change)|i'?m\s+(?:not\s+able|unable)\s+to\s+"
    r"(?:help|assist|provide|do|comply)|as\s+an\s+ai(?:\s+language\s+model)?,?\s+i\s+(?:can(?:no|')?t|cannot|am\s+not\s+able|"
    r"don'?t)|sorry,?\s+(?:but\s+)?(?:i|we)\s+(?:can(?:no|')?t|cannot|won'?t|am\s+unable)|unfortunately,?\s+i\s+(?:can(?:no|')?t|"
    r"cannot|am\s+unable)|(?:lo\s+siento,?\s+(?:pero\s+)?)?no\s+puedo\s+(?:ayudar|hacer|proporcionar|compartir|cumplir|"
    r"responder|asistir)|(?:je\s+suis\s+d[ée]sol[ée]e?,?\s+(?:mais\s+)?)?je\s+ne\s+(?:peux|suis\s+pas\s+en\s+mesure\s+de?)\s+"
    r"(?:pas\s+)?(?:vous\s+|t'|te\s+)?(?:aider|r[ée]pondre|fournir|partager|faire)|(?:es\s+tut\s+mir\s+leid,?\s+(?:aber\s+)?)?"
    r"ich\s+kann\s+(?:ihnen\s+|dir\s+)?(?:dabei\s+|damit\s+|hierbei\s+)?(?:leider\s+)?nicht\s+(?:helfen|weiterhelfen|"
    r"behilflich)|(?:抱歉|对不起|很抱歉)[，,]?\s*(?:我)?(?:无法|不能)|我(?:无法|不能)(?:帮助|协助|提供|回答)|"
    r"(?:desculpe,?\s+(?:mas\s+)?)?n[ãa]o\s+posso\s+(?:ajudar|fazer|fornecer)|(?:mi\s+dispiace,?\s+(?:ma\s+)?)?non\s+posso\s+"
    r"(?:aiutar|fornire|fare)|申し訳(?:ありません|ございません)が)"
)
# The last line is prose that stops on a lower-case letter, a comma or a colon, or CJK
# text stops without its full stop.
# Anchored at the end as a whole, so RE2 runs it backwards from the last character
# instead of reading the text.
UNFINISHED_RX = (r"(?:(?:\A|\n)[^\n\-*#|>\d`\s][^\n]*[\p{Ll},;:]\s*|[\p{Han}\p{Hiragana}\p{Katakana}]\s*"
                 r"|\s(?:and|or|the|a|to|of|with|but|for|y|et|und|de|que)\s*)\z")
FINISH_REASON_PATHS = ["$.finish_reason", "$.stop_reason", "$.response.body.choices[0].finish_reason",
                       "$.choices[0].finish_reason", "$.attributes.\"gen_ai.response.finish_reasons\"[0]",
                       "$.incomplete_details.reason", "$.candidates[0].finishReason"]
# An English function word that other languages written in ASCII do not use: a text
# without one, or with a character outside ASCII, goes to the language identifier.
ENGLISH_RX = (r"(?i)\b(?:the|and|you|your|with|that|this|what|how|please|will|have|are|for|would|could|should|"
              r"there|which|when|from)\b")

# The requests of a stored coverage range (validation_coverage_ranges g): the ok requests
# of its ingest, endpoint, model and prompt version between its two instants.
IN_RANGE = """q.ingested_at = g.ingested_at AND q.endpoint IS NOT DISTINCT FROM g.endpoint
     AND q.model IS NOT DISTINCT FROM g.model AND q.prompt_version IS NOT DISTINCT FROM g.prompt_version
     AND q.ts >= g.ts_from AND q.ts <= g.ts_to AND q.status = 'ok'"""

# Which requests each current check already covered (runs whose check, version and
# settings match the current ones), as a bitmask per request: requests stored one by
# one, and those of stored ranges.
DONE_SQL = f"""
WITH cur AS (SELECT unnest($cur_names) AS check_name, unnest($cur_versions) AS checker_version,
                    unnest($cur_settings) AS settings, unnest($cur_bits) AS bit),
runs AS (SELECT r.run_id, bit_or(c.bit) AS mask FROM validation_runs r
         JOIN cur c USING (check_name, checker_version, settings) GROUP BY r.run_id)
SELECT request_id, bit_or(mask) AS mask
FROM (SELECT v.request_id, m.mask FROM validation_coverage v JOIN runs m USING (run_id)
      WHERE v.ts >= $start AND v.ts < $end
      UNION ALL
      SELECT q.request_id, m.mask
      FROM validation_coverage_ranges g JOIN runs m USING (run_id)
      JOIN requests q ON {IN_RANGE}
      WHERE g.ts_to >= $start AND g.ts_from < $end AND q.ts >= $start AND q.ts < $end)
GROUP BY request_id
"""

# `todo` is each response's bitmask of checks still to run (new rows, or a new checker
# version): a check's SQL applies only where its bit is set.
_STILL_TO_RUN = "(todo & {bit}) <> 0"


def _c(name: str) -> str:
    return _STILL_TO_RUN.format(bit=BIT[name])


def _trimmed(col: str) -> str:
    """The length of ``col`` without its leading and trailing whitespace, copying nothing
    (both expressions are anchored: RE2 reads the ends only)."""
    return (f"(length({col}) - length(regexp_extract({col}, '^\\s*'))"
            f" - length(regexp_extract({col}, '\\s*\\z')))")


# A response some SQL check fails.
_FAILS = ("(blank OR short_words < min_words OR long_words > max_words OR parens <> 0 OR brackets <> 0 OR braces <> 0 "
          "OR odd_quotes = 1 OR odd_fences = 1 OR NOT json_ok OR refused OR finish_reason IS NOT NULL OR unfinished)")

_BAL = "[(len(string_split(response, '{o}')) - len(string_split(response, '{c}')))]"

# The pending responses of the window with what each check needs, into a temporary
# table (allowed on a read-only database). {done} is DONE_SQL or an empty relation.
BASE_CTE = f"""
ep AS (
    SELECT unnest($ep_names) AS endpoint, unnest($ep_min) AS ep_min, unnest($ep_max) AS ep_max,
           unnest($ep_json) AS ep_json, unnest($ep_schema) AS ep_schema
), done AS ({{done}}),
base AS (
    SELECT r.request_id, r.ts, r.endpoint, r.model, r.prompt_version, r.response, r.prompt, r.extra, r.ingested_at,
           coalesce(ep.ep_min, $min_words) AS min_words, coalesce(ep.ep_max, $max_words) AS max_words,
           coalesce(ep.ep_schema, false) AS has_schema,
           ($selected & CASE WHEN coalesce(ep.ep_json, false) THEN {ALL} ELSE {ALL - BIT['invalid_json']} END
                      & ~coalesce(done.mask, 0)) AS todo
    FROM requests r
    LEFT JOIN ep ON ep.endpoint = r.endpoint
    LEFT JOIN done ON done.request_id = r.request_id
    WHERE r.ts >= $start AND r.ts < $end AND r.status = 'ok'
"""

# How many responses some selected check has not covered (no text is read).
PENDING_SQL = f"WITH {BASE_CTE})\nSELECT count(*) FROM base WHERE todo <> 0"

CHECKED_SQL = f"""
CREATE OR REPLACE TEMP TABLE _aimon_checked AS
WITH {BASE_CTE}), first AS (
    -- (an anchored expression stops at the first non-space character: no copy of the text)
    -- (length() counts characters, a read of the whole text: once here, not at each use below)
    SELECT *, length(response) AS chars,
           response IS NULL OR regexp_matches(response, '^\\s*$') AS blank, response IS NULL AS missing,
           -- $enough_rx matches a text that opens with as many words as the largest
           -- min_words (anchored: it reads those words and stops); only the others are
           -- counted exactly.
           CASE WHEN {_c('too_short')} AND response IS NOT NULL AND NOT regexp_matches(response, $enough_rx)
                THEN len(regexp_extract_all(left(response, {SHORT_PREFIX}), $word_rx)) END AS prefix_words,
           -- Counted only for the characters present (contains() copies nothing); five
           -- columns rather than a list, which cost an allocation a row.
           CASE WHEN {_c('unbalanced')} AND (contains(response, '(') OR contains(response, ')'))
                THEN len(string_split(response, '(')) - len(string_split(response, ')')) ELSE 0 END AS balance1,
           CASE WHEN {_c('unbalanced')} AND (contains(response, '[') OR contains(response, ']'))
                THEN len(string_split(response, '[')) - len(string_split(response, ']')) ELSE 0 END AS brackets,
           CASE WHEN {_c('unbalanced')} AND (contains(response, '{{') OR contains(response, '}}'))
                THEN len(string_split(response, '{{')) - len(string_split(response, '}}')) ELSE 0 END AS braces,
           CASE WHEN {_c('unbalanced')} AND contains(response, '"')
                THEN (len(string_split(response, '"')) - 1) % 2 ELSE 0 END AS odd_quotes,
           CASE WHEN {_c('unbalanced')} AND contains(response, '```')
                THEN (len(string_split(response, '```')) - 1) % 2 ELSE 0 END AS odd_fences
    FROM base
    WHERE todo <> 0
)
, second AS (
SELECT request_id, ts, endpoint, model, prompt_version, todo, blank, missing, min_words, response, prompt, max_words, has_schema,
       chars,
       CASE WHEN prefix_words < min_words
            THEN CASE WHEN chars <= {SHORT_PREFIX} THEN prefix_words
                      ELSE len(regexp_extract_all(response, $word_rx)) END END AS short_words,
       CASE WHEN {_c('too_long')} AND chars > 2 * max_words - 2
            THEN len(regexp_extract_all(response, $word_rx)) END AS long_words,
       CASE WHEN {_c('repetition')} AND chars >= 200
            -- (a 16-character needle: found wherever a 40-character one is, and
            -- half the cost of the search; Python measures every candidate)
            THEN instr(response, regexp_extract(response, '(?s).{{16}}\\z')) < chars - 15
                 OR (chars >= 1000
                     AND instr(response, substring(response, chars // 2, 40)) < chars // 2 - 1)
            END AS loop_candidate,
       -- Enumerators "1)" and smileys ":)" close nothing.
       CASE WHEN balance1 <> 0
            THEN balance1 + len(regexp_extract_all(response, '(?m)^\\s*[0-9a-zA-Z]{{1,2}}\\)|\\s[0-9]{{1,2}}\\)|[:;]-?\\)'))
                 - len(regexp_extract_all(response, '[:;]-?\\(')) ELSE balance1 END AS parens,
       brackets, braces, odd_quotes, odd_fences,
       CASE WHEN {_c('invalid_json')} AND NOT blank THEN json_valid(response) END AS json_ok,
       CASE WHEN {_c('invalid_json')} AND NOT blank THEN regexp_matches(response, '^\\s*```') END AS fenced,
       CASE WHEN {_c('refusal')} AND NOT blank THEN regexp_matches(response, $refusal_rx) END AS refused,
       CASE WHEN {_c('truncated')} AND extra IS NOT NULL AND regexp_matches(CAST(extra AS VARCHAR), '(?i)length|max_')
            THEN lower(coalesce({', '.join(f"json_extract_string(extra, '{p}')" for p in FINISH_REASON_PATHS)}))
            END AS finish_reason,
       CASE WHEN {_c('truncated')} AND chars >= 40
            THEN regexp_matches(response, $unfinished_rx) END AS unfinished,
       -- Both sides ASCII with an English-only function word: English, no need to ask
       -- the identifier. Only the others are measured without their surrounding
       -- whitespace (trim() copies the text: 5 s a million responses).
       CASE WHEN {_c('language_mismatch')}
            THEN CASE WHEN NOT (strlen(prompt) = length(prompt) AND strlen(response) = chars
                                AND regexp_matches(prompt, $english_rx) AND regexp_matches(response, $english_rx))
                      THEN CASE WHEN {_trimmed('prompt')} >= 20 AND {_trimmed('response')} >= 20 THEN true END
                 END END AS language_candidate,
       CASE WHEN {_c('off_topic')} AND NOT blank AND regexp_matches(prompt, '\\S') THEN true END
            AS embeddable
FROM first
)
-- A CTE of its own: an alias used in the same SELECT is computed again where used.
SELECT * EXCLUDE (response, prompt, chars),
       CASE WHEN loop_candidate OR language_candidate OR (json_ok AND has_schema) THEN response END AS text,
       CASE WHEN language_candidate OR embeddable THEN prompt END AS prompt_text
FROM second
-- Only the responses that fail a check or go to Python are kept (writing a million rows
-- of two dozen columns cost more than any check; COVERED_SQL lists the covered
-- requests without reading a text). With off_topic every response is kept: the
-- embedding results are read back against them.
WHERE ($selected & {BIT['off_topic']}) <> 0
   OR {_FAILS} OR loop_candidate OR language_candidate OR (json_ok AND has_schema) OR embeddable
"""

# Every result of the SQL checks that is not a pass, one row each.
OUTCOMES_SQL = f"""
SELECT request_id, o.check_name, o.passed, o.detail
FROM (
    SELECT request_id, unnest(list_filter([
        CASE WHEN {_c('non_empty')} AND blank
             THEN {{'check_name': 'non_empty', 'passed': false,
                   'detail': CASE WHEN missing THEN 'no response' ELSE 'blank response' END}} END,
        CASE WHEN {_c('too_short')} AND NOT blank AND short_words < min_words
             THEN {{'check_name': 'too_short', 'passed': false,
                   'detail': short_words || ' words (min ' || min_words || ')'}} END,
        CASE WHEN {_c('too_long')} AND long_words > max_words
             THEN {{'check_name': 'too_long', 'passed': false,
                   'detail': long_words || ' words (max ' || max_words || ')'}} END,
        CASE WHEN {_c('unbalanced')} AND (parens <> 0 OR brackets <> 0 OR braces <> 0 OR odd_quotes = 1 OR odd_fences = 1)
             THEN {{'check_name': 'unbalanced', 'passed': false,
                   'detail': concat_ws('; ',
                        CASE WHEN parens > 0 THEN parens || ' unclosed (' WHEN parens < 0 THEN (-parens) || ' unopened )' END,
                        CASE WHEN brackets > 0 THEN brackets || ' unclosed [' WHEN brackets < 0 THEN (-brackets) || ' unopened ]' END,
                        CASE WHEN braces > 0 THEN braces || ' unclosed {{' WHEN braces < 0 THEN (-braces) || ' unopened }}' END,
                        CASE WHEN odd_quotes = 1 THEN 'odd number of double quotes' END,
                        CASE WHEN odd_fences = 1 THEN 'unclosed code fence' END)}} END,
        CASE WHEN {_c('invalid_json')} AND (blank OR NOT json_ok)
             THEN {{'check_name': 'invalid_json', 'passed': false,
                   'detail': CASE WHEN blank THEN 'empty, not JSON' WHEN fenced THEN 'not JSON (wrapped in a code fence)'
                                  ELSE 'not valid JSON' END}} END,
        CASE WHEN {_c('refusal')} AND refused
             THEN {{'check_name': 'refusal', 'passed': false, 'detail': 'opens with a refusal'}} END,
        CASE WHEN {_c('truncated')} AND (finish_reason IN ('length', 'max_tokens', 'max_output_tokens') OR unfinished)
             THEN {{'check_name': 'truncated', 'passed': false,
                   'detail': CASE WHEN finish_reason IN ('length', 'max_tokens', 'max_output_tokens')
                                  THEN 'finish_reason ' || finish_reason ELSE 'ends mid-sentence' END}} END
    ], lambda x: x IS NOT NULL)) AS o
    FROM _aimon_checked
    WHERE {_FAILS}
)
"""

# What the pass covered (the same rows as CHECKED_SQL's, no text read), when
# _aimon_checked holds only those that failed or went to Python: grouped by the checks
# each request ran (todo) and what a stored range names (ingest, endpoint, model, prompt
# version), with the group's first and last instant. A group is whole when no request
# of the window with the same keys but other checks to run (or none: covered before)
# falls between those instants; a whole group is stored as one range, the requests of
# the others one by one (COVERED_SQL).
_SAME_KEYS = ("{a}.ingested_at = {b}.ingested_at AND {a}.endpoint IS NOT DISTINCT FROM {b}.endpoint "
              "AND {a}.model IS NOT DISTINCT FROM {b}.model AND {a}.prompt_version IS NOT DISTINCT FROM {b}.prompt_version")
COVERED_GROUPS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _aimon_covered_groups AS
WITH {BASE_CTE}), g AS (
    SELECT todo, ingested_at, endpoint, model, prompt_version, min(ts) AS ts_from, max(ts) AS ts_to, count(*) AS n
    FROM base GROUP BY ALL
)
SELECT g.*, NOT EXISTS (SELECT 1 FROM g h WHERE h.todo <> g.todo AND {_SAME_KEYS.format(a='h', b='g')}
                                          AND h.ts_from <= g.ts_to AND g.ts_from <= h.ts_to) AS whole
FROM g
"""
COVERED_RANGES_SQL = """
SELECT todo AS mask, ingested_at, endpoint, model, prompt_version, ts_from, ts_to, n
FROM _aimon_covered_groups WHERE todo <> 0 AND whole
"""
COVERED_SQL = f"""WITH {BASE_CTE})
SELECT b.request_id, b.ts, b.todo, b.model, b.endpoint, b.prompt_version
FROM base b JOIN _aimon_covered_groups g ON g.todo = b.todo AND {_SAME_KEYS.format(a='g', b='b')} AND NOT g.whole
WHERE b.todo <> 0
"""
CANDIDATES_SQL = """
SELECT request_id, todo, endpoint, text, prompt_text, loop_candidate, language_candidate, json_ok AND has_schema,
       embeddable
FROM _aimon_checked
WHERE text IS NOT NULL OR prompt_text IS NOT NULL
ORDER BY ts DESC
"""
DROP_SQL = "DROP TABLE IF EXISTS _aimon_checked; DROP TABLE IF EXISTS _aimon_covered_groups"
