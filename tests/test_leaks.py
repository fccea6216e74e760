"""No personal data in any output without --show-pii, and ``audit pii`` finds all of it.

E-mails, phone numbers, card numbers, SSNs, IBANs and API keys are planted in every
string column of the request log (ids, names, error types, texts), in ``extra`` at the
top level and nested in objects and lists, and in the feedback log (user ids, text,
extra). Every command is then run in every format it accepts (the CLI tree is walked,
so a new command without a case fails here), and no planted value may appear raw in
its stdout or stderr, ``aimon sql``'s rows included.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import typer.main
from typer.testing import CliRunner

from aimon.analysis.pii.scan import mask_values
from aimon.cli import app
from aimon.render.masking import mask
from tests.conftest import GOLDEN_ENV

KINDS = ("email", "phone", "card", "ssn", "iban", "api_key")


def _luhn(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return digits + str((10 - total % 10) % 10)


def _iban(rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    numeric = int(bban + "131400")  # D=13, E=14, check digits 00
    return f"DE{98 - numeric % 97:02d}{bban}"


def _value(kind: str, i: int, rng: random.Random) -> str:
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    if kind == "email":
        return f"leak{i}.person{rng.randrange(10**6)}@example{i}.org"
    if kind == "phone":
        return f"+44 20 7946 {rng.randrange(10**4):04d}"
    if kind == "card":
        return _luhn("4" + "".join(rng.choice("0123456789") for _ in range(14)))
    if kind == "ssn":
        return f"{rng.randrange(100, 600):03d}-{rng.randrange(10, 99):02d}-{rng.randrange(1000, 9999):04d}"
    if kind == "iban":
        return _iban(rng)
    return "sk-proj-" + "".join(rng.choice(alnum) for _ in range(40))


class Planter:
    """Hands out distinct values the detector recognises, and remembers where each went."""

    def __init__(self) -> None:
        self.rng = random.Random(15)
        self.count = itertools.count()
        self.planted: dict[str, str] = {}  # value -> place

    def __call__(self, place: str, kind: str) -> str:
        while True:
            value = _value(kind, next(self.count), self.rng)
            if value not in self.planted and mask_values([value]) != [value]:
                self.planted[value] = f"{place}:{kind}"
                return value


# Flat-log fields that become string columns (the error object is its own case).
ID_FIELDS = ("request_id", "user_id", "session_id", "endpoint", "provider", "model", "version",
             "prompt_version", "experiment", "variant", "user_tier", "jurisdiction")
TEXT_FIELDS = ("prompt", "response", "system_prompt", "user_feedback")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _records(plant: Planter) -> tuple[list[dict], list[dict]]:
    rng = random.Random(7)
    requests, feedback = [], []
    n = 0

    def base(i: int, ts: datetime) -> dict:
        return {"timestamp": ts.isoformat().replace("+00:00", "Z"), "request_id": f"req-{i:05d}",
                "user_id": f"usr_{i % 23:04x}", "session_id": f"sess_{i % 41:04x}",
                "endpoint": ["/chat", "/summarize"][i % 2], "provider": "openai", "model": "gpt-4o-mini",
                "version": "gpt-4o-mini-2024-07-18", "prompt_version": "chat-v1",
                "prompt": "How do I reset my password?", "response": "Use the reset link on the sign-in page.",
                "system_prompt": "You are a helpful assistant.",
                "prompt_tokens": 50 + i % 17, "completion_tokens": 20 + i % 13, "cost_usd": 0.0001 * (1 + i % 5),
                "latency_ms": 800 + (i * 37) % 900, "ttft_ms": 200, "status": "ok", "error": None,
                "experiment": "exp-tone", "variant": ["control", "treatment"][i % 2], "temperature": 0.3,
                "user_tier": "pro", "jurisdiction": "US", "consent": True, "success": i % 3 != 0}

    # Background traffic over 21 days, so that forecasts, baselines and incidents have history.
    for i in range(480):
        requests.append(base(i, T0 + timedelta(minutes=63 * i + rng.randrange(10))))
    n = len(requests)
    # Planted rows: each kind in each place, spread over the last day.
    last_day = T0 + timedelta(days=20, hours=1)
    for k, kind in enumerate(KINDS):
        for j, field in enumerate((*ID_FIELDS, *TEXT_FIELDS, "error_type", "error_message", "extra",
                                   "nested", "nested_list")):
            i = n + k * 40 + j
            rec = base(i, last_day + timedelta(minutes=3 * (k * 40 + j)))
            if field in ID_FIELDS:
                rec[field] = plant(field, kind)
            elif field in TEXT_FIELDS:
                rec[field] = f"Please write to me at {plant(field, kind)} today."
            elif field == "error_type":  # ingest lower-cases it: the detector must still find it
                rec.update(status="error", error={"type": plant(field, kind), "message": "failed"})
            elif field == "error_message":
                rec.update(status="error", error={"type": "api_error",
                                                  "message": f"upstream rejected {plant(field, kind)}"})
            elif field == "extra":
                rec["customer_contact"] = plant("extra", kind)
            elif field == "nested":
                rec["meta"] = {"account": {"owner": {"contact": plant("extra.nested", kind)}}}
            else:
                rec["tags"] = ["vip", {"ref": plant("extra.nested_list", kind)}]
            requests.append(rec)
            # Feedback on the planted request: user id, text and extra (nested too).
            if j < 3:
                fb = {"request_id": rec["request_id"], "timestamp": rec["timestamp"],
                      "user_id": rec["user_id"], "feedback_type": "thumbs_down", "feedback_category": "incorrect",
                      "feedback_text": "Bad answer."}
                if j == 0:
                    fb["user_id"] = plant("feedback.user_id", kind)
                elif j == 1:
                    fb["feedback_text"] = f"Call me back on {plant('feedback.feedback_text', kind)} please"
                else:
                    fb["device"] = {"owner": plant("feedback.extra.nested", kind)}
                feedback.append(fb)
    # Feedback that belongs to no request (no request id): user id, text and nested extra.
    for kind in KINDS:
        feedback.append({"timestamp": (last_day + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
                         "user_id": plant("feedback.orphan.user_id", kind), "feedback_type": "thumbs_down",
                         "feedback_text": f"Reach me at {plant('feedback.orphan.feedback_text', kind)} thanks",
                         "device": {"owner": plant("feedback.orphan.extra.nested", kind)}})
    # An incident: a burst of errors whose type is a planted e-mail, and a cost spike by one user.
    burst_type = plant("error_type.burst", "email")
    spender = plant("user_id.spender", "phone")
    for m in range(60):
        rec = base(n + 400 + m, T0 + timedelta(days=20, hours=12, minutes=m))
        rec.update(status="error", error={"type": burst_type, "message": "boom"}, user_id=spender,
                   prompt_tokens=40_000, cost_usd=2.5)
        requests.append(rec)
    # An experiment named by an e-mail address, with two variants, so that it can be analysed.
    experiment = next(v for v, place in plant.planted.items() if place == "experiment:email")
    for m in range(40):
        rec = base(n + 500 + m, T0 + timedelta(days=20, hours=14, minutes=m))
        rec.update(experiment=experiment, user_id=f"usr_x{m:03d}")
        requests.append(rec)
    return requests, feedback


@pytest.fixture(scope="module")
def leak_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("leaks")
    plant = Planter()
    requests, feedback = _records(plant)
    req_file, fb_file = folder / "requests.jsonl.gz", folder / "feedback.jsonl"
    with gzip.open(req_file, "wt") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in requests)
    fb_file.write_text("".join(json.dumps(r) + "\n" for r in feedback))
    db = folder / "aimon.duckdb"
    runner = CliRunner()
    env = {**GOLDEN_ENV, "AIMON_DB": str(db)}
    for args in (["ingest", str(req_file)], ["ingest", "--feedback", str(fb_file)]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    return db, plant.planted, folder, env


# One command line per leaf command (the placeholders are filled from the planted data).
CASES: dict[tuple[str, ...], list[tuple[str, ...]]] = {
    ("ingest",): [("ingest", "{requests}")],
    ("sql",): [("sql", "SELECT * FROM requests", "--limit", "0"), ("sql", "FROM feedback", "--limit", "0"),
               ("sql", "SELECT DISTINCT user_id AS \"{user}\" FROM requests")],
    ("config", "validate"): [],  # reads aimon.toml only, never the logs
    ("config", "show"): [],
    ("db", "info"): [("db", "info")],
    ("report", "daily"): [("report", "daily", "--date", "2026-11-21")],
    ("report", "weekly"): [("report", "weekly")],
    ("cost", "prices"): [("cost", "prices")],
    ("cost", "breakdown"): [("cost", "breakdown", "--by", by) for by in
                            ("user", "model", "provider", "endpoint", "prompt_version", "variant", "experiment",
                             "user_tier", "endpoint,user", "day,model")],
    ("cost", "reconcile"): [("cost", "reconcile")],
    ("cost", "forecast"): [("cost", "forecast", "--horizon", "7d")],
    ("cost", "anomalies"): [("cost", "anomalies")],
    ("cost", "check"): [("cost", "check", "--daily-budget", "1")],
    ("cost", "routing"): [("cost", "routing")],
    ("cost", "cache-opportunity"): [("cost", "cache-opportunity")],
    ("alerts", "check"): [("alerts", "check", "--no-state", "--at", "2026-11-21T13:00")],
    ("alerts", "scan"): [("alerts", "scan", "--since", "2026-11-20")],
    ("alerts", "rules"): [("alerts", "rules")],
    ("incident", "detect"): [("incident", "detect")],
    ("incident", "postmortem"): [("incident", "postmortem", "--start", "2026-11-21T12:00",
                                  "--end", "2026-11-21T13:00", "--samples", "20")],
    ("abtest", "list"): [("abtest", "list")],
    ("abtest", "analyze"): [("abtest", "analyze", "-e", "exp-tone", "--resamples", "200"),
                            ("abtest", "analyze", "-e", "{experiment}", "--resamples", "200")],
    ("drift",): [("drift", "--baseline", "2026-11-01..2026-11-20", "--current", "2026-11-20..2026-11-23")],
    ("similarity",): [("similarity", "--golden", "{golden}")],
    ("similarity", "consistency"): [("similarity", "consistency")],
    ("validate",): [("validate",)],
    ("audit", "pii"): [("audit", "pii", "--samples", "200", "--top", "50")],
    ("audit", "compliance"): [("audit", "compliance")],
    ("audit", "security"): [("audit", "security")],
    ("redact",): [("redact", "--out", "{folder}/redacted")],
    ("forget",): [("forget", "--user", "{user}", "--dry-run")],
    ("purge",): [("purge", "--older-than", "1d", "--dry-run")],
}
SEMANTIC = {("drift",), ("similarity",), ("similarity", "consistency"), ("cost", "cache-opportunity"),
            ("validate",)}
FORMATS = ("table", "markdown", "json", "csv")


def _leaves() -> list[tuple[str, ...]]:
    found = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*path, name))
        if not subs or path in CASES:  # a group that runs on its own (similarity) is a command too
            found.append(path)

    walk(typer.main.get_command(app), ())
    return [p for p in found if p]


def test_every_command_has_a_leak_case():
    assert sorted(set(_leaves()) - set(CASES)) == []


def _formats(args: tuple[str, ...]) -> tuple[str, ...]:
    if args[:1] == ("report",):
        return (*FORMATS, "html")
    if args[:2] == ("alerts", "rules"):
        return (*FORMATS, "toml")
    return FORMATS


def _runs(semantic: bool):
    for leaf, lines in CASES.items():
        if (leaf in SEMANTIC) != semantic:
            continue
        for args in lines:
            for fmt in _formats(args):
                yield pytest.param(args, fmt, id=f"{'-'.join(args[:4])}-{fmt}")


def _fill(args: tuple[str, ...], db: Path, planted: dict[str, str], folder: Path) -> list[str]:
    by_place = {place: value for value, place in planted.items()}
    golden = folder / "golden.jsonl"
    if not golden.exists():
        golden.write_text(json.dumps({"question_id": "reset", "question": "How do I reset my password?",
                                      "reference_answer": "Use the reset link on the sign-in page."}) + "\n")
    values = {"requests": str(folder / "requests.jsonl.gz"), "folder": str(folder), "golden": str(golden),
              "experiment": by_place["experiment:email"], "user": by_place["user_id:email"]}
    out = [a.format(**values) for a in args]
    if args[0] == "ingest":  # a fresh database: ingest's own output is under test
        out += ["--db", str(folder / f"ingest-{random.randrange(10**9)}.duckdb")]
    return out


def _leaks(text: str, planted: dict[str, str]) -> list[str]:
    return [f"{place} {value!r}" for value, place in planted.items() if value in text or value.lower() in text]


def _run(leak_db, args, fmt, tmp_path) -> tuple[int, int]:
    db, planted, folder, env = leak_db
    line = [*_fill(args, db, planted, folder), "--format", fmt]
    out_file = tmp_path / "out"
    if args[0] not in ("ingest", "forget", "purge", "redact"):
        line += ["-o", str(out_file)]
    result = CliRunner().invoke(app, line, env=env)
    assert result.exit_code in (0, 1, 2), (line, result.output)
    if result.exit_code == 2:
        # A refused format (CSV of several tables) is fine; anything else is a broken case.
        assert "CSV" in result.stderr or "csv" in result.stderr or "format" in result.stderr, \
            (line, result.stderr)
    text = result.stdout + result.stderr + (out_file.read_text() if out_file.exists() else "")
    leaks = _leaks(text, planted)
    assert not leaks, f"aimon {' '.join(line)} printed {len(leaks)} planted value(s): {leaks[:10]}"
    return len(planted), len(text)


@pytest.mark.slow
@pytest.mark.parametrize(("args", "fmt"), list(_runs(semantic=False)))
def test_no_planted_value_in_any_output(leak_db, args, fmt, tmp_path):
    _run(leak_db, args, fmt, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("args", "fmt"), list(_runs(semantic=True)))
def test_no_planted_value_in_semantic_outputs(leak_db, args, fmt, tmp_path):
    pytest.importorskip("sentence_transformers")
    _run(leak_db, args, fmt, tmp_path)


@pytest.mark.slow
def test_show_pii_prints_them_so_the_leak_test_can_fail(leak_db, tmp_path):
    db, planted, folder, env = leak_db
    runner = CliRunner()
    seen = set()
    for args in (("cost", "breakdown", "--by", "user"), ("incident", "postmortem", "--start", "2026-11-21T12:00",
                                                          "--end", "2026-11-21T13:00")):
        result = runner.invoke(app, [*args, "--format", "json", "--show-pii"], env=env)
        assert result.exit_code == 0, result.output
        seen.update(_leaks(result.stdout, planted))
    assert any(s.startswith("user_id.spender") for s in seen)
    assert any(s.startswith("error_type.burst") for s in seen)


FINDINGS_SQL = """
SELECT f.field, substring(CASE f.field {cases} END, f.start + 1, f."end" - f.start) AS value
FROM pii_findings f JOIN requests r USING (request_id) WHERE f.validated
"""


@pytest.mark.slow
def test_audit_pii_finds_every_planted_value(leak_db):
    from aimon.analysis.pii.entities import FIELD_SQL

    db, planted, folder, env = leak_db
    result = CliRunner().invoke(app, ["audit", "pii", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    cases = " ".join(f"WHEN '{f.value}' THEN {sql}" for f, sql in FIELD_SQL.items())
    with duckdb.connect(str(db), read_only=True) as con:
        found = {v for _, v in con.execute(FINDINGS_SQL.format(cases=cases)).fetchall()}
    # A value the log holds in another form (a JSON string in extra, a lower-cased error
    # type) counts when its text is found.
    found = {v.lower() for v in found}
    missed = [f"{place} {value!r}" for value, place in planted.items()
              if value.lower() not in found and not any(value.lower() in v for v in found)
              and not place.startswith("feedback.orphan.")]
    # Feedback without a request has no row in the per-request cache: the report counts it.
    orphans = [place for place in planted.values() if place.startswith("feedback.orphan.")]
    counted = sum(r["findings"] for r in json.loads(result.stdout)["feedback_without_request"])
    assert counted >= len(orphans), f"audit pii found {counted} of {len(orphans)} values in feedback without a request"
    print(f"\naudit pii found {len(planted) - len(missed)} of {len(planted)} planted values")
    assert not missed, f"audit pii missed {len(missed)} of {len(planted)}: {missed[:20]}"


def test_masking_is_one_pass_over_distinct_strings():
    import polars as pl

    calls = []

    def masker(values):
        calls.append(list(values))
        return mask_values(values)

    frame = pl.DataFrame({"user_id": ["jane.doe@example.com", "usr_6d814dc2", "jane.doe@example.com"],
                          "tags": [["+44 20 7946 0958"], [], None], "cost": [1.0, 2.0, 3.0]})
    data = {"by_user": frame, "title": "Cost", "top": ["jane.doe@example.com"],
            "jane.doe@example.com": {"requests": 3}}
    masked_data, masked_frame = mask(masker, data, frame)
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0]))
    text = json.dumps({"d": {k: (v.to_dicts() if isinstance(v, pl.DataFrame) else v)
                             for k, v in masked_data.items()}, "f": masked_frame.to_dicts()})
    assert "jane.doe" not in text and "7946" not in text
    assert "usr_6d814dc2" in text and "[REDACTED_EMAIL]" in text and "[REDACTED_PHONE]" in text
    assert masked_frame["cost"].to_list() == [1.0, 2.0, 3.0]
    assert mask(None, data) == (data,)
