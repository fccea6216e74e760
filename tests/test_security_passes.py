"""The prompt rules' passes: rules over other scripts run only where a non-ASCII letter is."""

from __future__ import annotations

from pathlib import Path

import duckdb

from aimon.analysis.security import rules as R
from aimon.analysis.security.languages import NON_ASCII
from tests.security_eval.evaluate import load


def test_every_rule_runs_in_exactly_one_pass():
    names = [r.name for p in R.PROMPT_PASSES for r in p if not isinstance(r, str)]
    assert sorted(names) == sorted(r.name for r in R.PROMPT_RULES)


def test_the_guarded_passes_hold_only_rules_that_need_a_non_ascii_letter():
    guarded = {r.name for k in R.NON_ASCII_PASSES for r in R.PROMPT_PASSES[k]}
    assert guarded == set(NON_ASCII)


def test_no_non_ascii_rule_matches_what_the_guard_skips():
    # Every match of a guarded rule, over every labelled text of every language, holds a
    # non-ASCII character; so skipping ASCII-only prompts skips no finding.
    sets = [None, *sorted((Path(__file__).parent / "data" / "security").glob("heldout[45].jsonl"))]  # not a blind set
    texts = [r["text"] for path in sets for r in (load() if path is None else load(path))]
    by_name = {r.name: r for r in R.PROMPT_RULES}
    con = duckdb.connect()
    for name in NON_ASCII:
        matches = con.execute("SELECT unnest(regexp_extract_all(t, $rx)) FROM (SELECT unnest($texts) AS t)",
                              {"rx": R.alternation([by_name[name].pattern]), "texts": texts}).fetchall()
        assert all(not m.isascii() for (m,) in matches), name
    found = con.execute("SELECT count(*) FROM (SELECT unnest($texts) AS t) WHERE regexp_matches(t, $rx)",
                        {"rx": R.alternation([by_name[n].pattern for n in NON_ASCII[:2]]), "texts": texts}).fetchone()[0]
    assert found > 0  # the sets hold Russian attacks: the check above saw matches
