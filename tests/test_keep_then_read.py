"""Session.keep_then_read: the one round of a cache computed over a window (audit
security and validate): look, compute under the write lock when something is new and
the file takes it, keep, read back, and say why not when it was not kept."""

from __future__ import annotations

import os

from aimon.store.connection import connect
from aimon.store.session import session


def _db(tmp_path):
    path = tmp_path / "k.duckdb"
    connect(path, write=True).close()
    return path


def _round(path, *, fresh: bool, no_store: bool = False):
    saved = []
    with session(path) as s:
        kept = s.keep_then_read(
            "results", look=lambda con: ("scope", fresh), compute=lambda con, scope: f"computed {scope}",
            save=lambda con, computed: saved.append(computed),
            read=lambda con, computed, stored, notes: (computed, stored, notes), no_store=no_store)
    return kept, saved


def test_something_new_on_a_writable_file_is_kept_and_read_back(tmp_path):
    kept, saved = _round(_db(tmp_path), fresh=True)
    assert saved == ["computed scope"]
    assert kept.computed == "computed scope" and kept.fresh
    assert kept.shown == ("computed scope", True, ())


def test_nothing_new_is_not_kept_again_and_reads_as_stored(tmp_path):
    kept, saved = _round(_db(tmp_path), fresh=False)
    assert saved == [] and not kept.fresh
    assert kept.shown == ("computed scope", True, ())


def test_no_store_computes_in_memory_and_says_so(tmp_path):
    kept, saved = _round(_db(tmp_path), fresh=True, no_store=True)
    assert saved == []
    assert kept.shown == ("computed scope", False, ("--no-store: results were computed in memory and not stored.",))


def test_a_read_only_file_computes_in_memory_and_says_why(tmp_path):
    path = _db(tmp_path)
    os.chmod(path, 0o444)
    kept, saved = _round(path, fresh=True)
    assert saved == []
    (computed, stored, notes) = kept.shown
    assert not stored and notes == (f"{path} is read-only: results were computed in memory and not stored.",)
