"""Opening the aimon DuckDB file: locking, schema checks and session settings.

Every command goes through :func:`open_db`, so driver errors are translated once,
where they enter: a locked file, a file that is not a database, a database written
by a newer aimon each become one line that names the file and the next step.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from aimon.errors import DatabaseInUse, InputError, SchemaError
from aimon.files import is_database_file
from aimon.store import lockwait, schema
from aimon.store.lockwait import format_seconds, lock_wait

DEFAULT_DB = "aimon.duckdb"
_T = TypeVar("_T")

# Heavy commands (ingest) keep DuckDB's memory under a budget whatever the file size;
# DuckDB spills to a temporary directory beyond it. The budget is a share of the memory
# available when the command starts (a container's cgroup limit counts), capped: on
# 1M-record files a load at 1500MB ran 10-25% slower than at 1800MB, and more bought
# nothing. AIMON_MEMORY_LIMIT sets it outright (e.g. 500MB, 4GB).
MAX_MEMORY_LIMIT_MB = 1800
MIN_MEMORY_LIMIT_MB = 256
MEMORY_SHARE = 0.4
DEFAULT_MEMORY_LIMIT = f"{MAX_MEMORY_LIMIT_MB}MB"
# A file whose records one thread maps (message lists unpacked in nested lambdas, as in
# OTel spans: aimon.store.ingest_file) keeps the rows it loads in memory until the
# commit, and a larger budget only lets more of them stay: 100,000 spans peaked at
# 956-1,021 MiB at 1800MB and 836-845 MiB at 800MB, about a fifth slower. The default
# budget is lowered to this for such a file; AIMON_MEMORY_LIMIT is kept as set.
ONE_THREAD_MEMORY_LIMIT_MB = 800
# A file whose every line holds many records (OTLP export lines of hundreds of spans)
# unpacks a chunk of lines at once beside the chunk of records it maps, and that, not
# the rows it keeps, is what 800MB ran short of: 24 lines of 512 spans ran out at 800MB
# and peak at 1,085 MB at 1000MB; 118 such lines, 967 MB at 1000MB and 2,197 MB at 1600MB.
MANY_A_LINE_MEMORY_LIMIT_MB = 1000


def available_memory_mb() -> int | None:
    """Memory this process may still take: the kernel's MemAvailable, lowered to what is
    left under the cgroup's limit (a container). None where neither can be read."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) // 1024)
    except (OSError, ValueError, IndexError):
        pass
    cgroup = Path("/sys/fs/cgroup")
    for limit, used in (("memory.max", "memory.current"),
                        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            cap = (cgroup / limit).read_text().strip()
            if cap.isdigit() and int(cap) < 1 << 60:
                found.append((int(cap) - int((cgroup / used).read_text().strip())) // (1 << 20))
        except (OSError, ValueError):
            continue
    return max(0, min(found)) if found else None


def memory_budget() -> str:
    """The memory budget for heavy commands: $AIMON_MEMORY_LIMIT, else a share of the
    available memory between 256MB and 1800MB."""
    configured = os.environ.get("AIMON_MEMORY_LIMIT")
    if configured:
        return configured
    available = available_memory_mb()
    if available is None:
        return DEFAULT_MEMORY_LIMIT
    share = int(available * MEMORY_SHARE)
    return f"{max(MIN_MEMORY_LIMIT_MB, min(MAX_MEMORY_LIMIT_MB, share))}MB"


_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<prog>.*?) \(PID (?P<pid>\d+)\)")

def _holder(pid: str | None, prog: str | None) -> str:
    """Who holds the lock, as a person would say it: "another aimon process (PID 12, ingest)"."""
    if not pid:
        return "another process"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        argv = []
    for i, arg in enumerate(argv):
        if Path(arg).name == "aimon" or (arg == "aimon" and i and argv[i - 1] == "-m"):
            words = [a for a in argv[i + 1:] if a and not a.startswith("-")]
            what = f", {words[0]}" if words else ""
            return f"another aimon process (PID {pid}{what})"
    name = Path(prog).name if prog else ""
    return f"another process (PID {pid}{', ' + name if name else ''})"


def default_db_path() -> Path:
    """The database used when no --db is given: $AIMON_DB, else ./aimon.duckdb."""
    return Path(os.environ.get("AIMON_DB") or DEFAULT_DB)


def _in_use(text: str, path: Path, waited: float = 0.0) -> DatabaseInUse:
    lock = _LOCK_RE.search(text)
    holder = _holder(lock["pid"] if lock else None, lock["prog"] if lock else None)
    gave_up = f"gave up after {format_seconds(waited)}" if waited > 0 else "did not wait"
    return DatabaseInUse(
        f"database is in use by {holder}: {path}; {gave_up} (--wait 5m or AIMON_LOCK_TIMEOUT "
        "waits longer), or use another --db"
    )


def _translate(exc: duckdb.Error, path: Path) -> Exception:
    text = str(exc)
    if _LOCK_RE.search(text) or "Could not set lock" in text:
        return _in_use(text, path)
    if "not a valid DuckDB database" in text:
        return InputError(f"{path} is not a DuckDB database; pass the aimon database with --db")
    if "database does not exist" in text:
        return InputError(
            f"no database at {path}; load logs first with 'aimon ingest FILE --db {path}'"
        )
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return InputError(f"cannot open {path}: {first_line}")


def _configure(con: duckdb.DuckDBPyConnection, tz: str, memory_limit: str | None) -> None:
    # Date buckets follow the session zone; never let them follow the machine's.
    con.execute(f"SET TimeZone = '{_checked_zone(con, tz)}'")
    con.execute("SET enable_progress_bar = false")
    if memory_limit:
        try:
            con.execute("SET memory_limit = $m", {"m": memory_limit})
        except duckdb.Error:
            raise InputError(f"memory budget {memory_limit!r} is not a size; set AIMON_MEMORY_LIMIT "
                             "to one such as 500MB or 4GB") from None
        # As given: DuckDB shows the setting rounded ('1.6 GiB'), so it cannot be set back from that.
        con.execute("SET VARIABLE aimon_memory_limit = $m", {"m": memory_limit})


def _configured_budget(con: duckdb.DuckDBPyConnection) -> str | None:
    # fetchall, not fetchone: a result left unfinished makes DuckDB refuse the caller's
    # next register() on this connection.
    return con.execute("SELECT getvariable('aimon_memory_limit')").fetchall()[0][0]


def lower_budget_for_one_thread(con: duckdb.DuckDBPyConnection, limit_mb: int | None = None) -> str | None:
    """The default budget capped at ``limit_mb`` (ONE_THREAD_MEMORY_LIMIT_MB unless
    given) while one thread maps a heavy file (``restore_budget`` after it); a budget
    AIMON_MEMORY_LIMIT sets is kept. Returns the lowered budget, None when it stays."""
    limit_mb = ONE_THREAD_MEMORY_LIMIT_MB if limit_mb is None else limit_mb
    if os.environ.get("AIMON_MEMORY_LIMIT"):
        return None
    configured = _configured_budget(con)
    found = re.fullmatch(r"(\d+)MB", configured or "")
    if not found or int(found[1]) <= limit_mb:
        return None
    lowered = f"{limit_mb}MB"
    con.execute(f"SET memory_limit = '{lowered}'")
    con.execute("SET VARIABLE aimon_budget_to_restore = $m", {"m": configured})
    return lowered


def restore_budget(con: duckdb.DuckDBPyConnection) -> None:
    """The configured budget back after :func:`lower_budget_for_one_thread` lowered it.
    Only then: setting the budget makes DuckDB go through its buffers (0.05 s after a
    million records)."""
    configured = con.execute("SELECT getvariable('aimon_budget_to_restore')").fetchall()[0][0]
    if configured:
        con.execute("SET memory_limit = $m", {"m": configured})
        con.execute("RESET VARIABLE aimon_budget_to_restore")


def _checked_zone(con: duckdb.DuckDBPyConnection, tz: str) -> str:
    row = con.execute(
        "SELECT name FROM pg_timezone_names() WHERE lower(name) = lower($tz) LIMIT 1", {"tz": tz}
    ).fetchone()
    if row is None:
        raise InputError(f"unknown time zone {tz!r}; use an IANA name such as UTC or Europe/Berlin")
    return row[0]


def connect(
    path: Path | str,
    *,
    write: bool = False,
    tz: str = "UTC",
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the aimon database at ``path``, migrated to this aimon's schema.

    ``write=False`` opens read-only (several readers may run at once) and refuses a
    missing file; ``write=True`` takes the single-writer lock and creates the file if
    needed.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"--db {path} is a directory; give a file path such as {path / DEFAULT_DB}")
    if not write and str(path) != ":memory:" and not path.exists():
        raise InputError(
            f"no database at {path}; load logs first with 'aimon ingest FILE --db {path}'"
        )
    refuse_non_database(path, option="--db")
    if write:
        refuse_read_only(path)
    creating = write and str(path) != ":memory:" and not path.exists()
    con = _connect_waiting(path, read_only=not write)
    if creating:
        # It will hold prompts and personal data: private from the first byte of data.
        os.chmod(path, 0o600)
    try:
        _configure(con, tz, memory_limit)
        if write:
            schema.migrate(con, str(path))
        else:
            if schema.pending(con, schema.check_known(con, str(path))):
                # Upgrading aimon should not make every report fail until someone runs a
                # write command: migrate once with a short write lock, then read.
                con.close()
                if read_only_reason(path):
                    raise SchemaError(f"{path} needs a schema upgrade but is read-only; run any "
                                      "aimon command once on a writable copy, or make it writable")
                connect(path, write=True).close()
                con = _connect_waiting(path, read_only=True)
                _configure(con, tz, memory_limit)
    except duckdb.Error as exc:
        con.close()
        if _was_interrupted(exc):
            raise KeyboardInterrupt from None
        raise _translate(exc, path) from exc
    except BaseException:
        con.close()
        raise
    return con


def _connect_waiting(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, waiting up to :func:`lock_wait` while another process holds the
    file: a cron report that overlaps the cron ingest starts when the ingest commits."""
    return _waiting(path, lambda: duckdb.connect(str(path), read_only=read_only))


def attach_read_only(con: duckdb.DuckDBPyConnection, path: Path, alias: str) -> None:
    """ATTACH the aimon database at ``path`` to ``con`` as ``alias``, read-only, waiting
    like :func:`connect` while another process writes it. Readers are not held up by
    it; a writer is until the DETACH (or, inside a transaction, until that ends)."""
    quoted = "'" + str(path).replace("'", "''") + "'"
    _waiting(path, lambda: con.execute(f"ATTACH {quoted} AS {alias} (READ_ONLY)"))


def _waiting(path: Path, open_file: Callable[[], _T]) -> _T:
    wait = lock_wait()
    deadline = time.monotonic() + wait
    announced = False
    while True:
        try:
            return open_file()
        except duckdb.InterruptException:
            raise
        except duckdb.Error as exc:
            error = _translate(exc, path)
            if not isinstance(error, DatabaseInUse):
                raise error from exc
            if time.monotonic() >= deadline:
                raise _in_use(str(exc), path, wait) from exc
            if not announced:
                lock = _LOCK_RE.search(str(exc))
                holder = _holder(lock["pid"] if lock else None, lock["prog"] if lock else None)
                lockwait.on_lock_wait(f"waiting for the database: {holder} holds {path} "
                                      f"(up to {format_seconds(wait)}; --wait changes it)…")
                announced = True
            time.sleep(max(0.0, min(lockwait.POLL_SECONDS, deadline - time.monotonic())))


def read_only_reason(path: Path | str) -> str | None:
    """Why aimon must not write the database at ``path`` (None: it may): a read-only
    mount, a file this user cannot write, or one whose mode grants no write at all
    (0444 is honoured even for root, who could write it anyway), or a directory where
    DuckDB cannot put its write-ahead log."""
    path = Path(path)
    if str(path) == ":memory:" or not path.exists():
        return None
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "on a read-only file system"
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        return exc.strerror or "cannot be examined"
    if not mode & 0o222:
        return f"read-only (mode {mode:04o})"
    if not os.access(path, os.W_OK):
        return "not writable by this user"
    if not os.access(path.resolve().parent, os.W_OK | os.X_OK):
        return "in a directory this user cannot write"
    return None


def is_writable(path: Path | str) -> bool:
    return read_only_reason(path) is None


def shadow_in_memory(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> None:
    """On a read-only connection, give ``tables`` (caches, state) in-memory copies that
    shadow the stored ones: unqualified names resolve to the temporary schema first, so
    an analysis that records its cache or state runs unchanged and nothing reaches the
    file. The copies hold the stored rows, so what was cached before is still used."""
    database = con.execute("SELECT current_database()").fetchone()[0]
    for table in tables:
        row = con.execute(
            "SELECT sql FROM duckdb_tables() WHERE database_name = $d AND schema_name = 'main' "
            "AND table_name = $t", {"d": database, "t": table}).fetchone()
        if row is None:
            continue
        con.execute(re.sub(r"^\s*CREATE\s+TABLE\s", "CREATE TEMP TABLE ", row[0], count=1, flags=re.I))
        con.execute(f'INSERT INTO temp.main."{table}" SELECT * FROM "{database}".main."{table}"')


def refuse_read_only(path: Path) -> None:
    """Commands that must write (ingest, forget, purge, a price refresh) stop here."""
    why = read_only_reason(path)
    if why:
        raise InputError(f"{path} is {why}; this command writes the database: run it on a "
                         "writable copy, or make the file writable")


def _was_interrupted(exc: BaseException | None) -> bool:
    """Ctrl-C during a migration surfaces as the ROLLBACK's error; the interrupt is in
    the chain of exceptions behind it."""
    while exc is not None:
        if isinstance(exc, duckdb.InterruptException | KeyboardInterrupt):
            return True
        exc = exc.__context__
    return False


# Ctrl-C while DuckDB runs a long statement: Python runs its SIGINT handler only when
# the statement returns to the interpreter (15-40 s into a large ingest). The C-level
# handler still writes the signal number to the wakeup fd at once, so a watcher thread
# reading it interrupts every open connection; DuckDB then stops within a fraction of a
# second and the KeyboardInterrupt (and any rollback) follows as usual.
_OPEN: set[duckdb.DuckDBPyConnection] = set()
_OPEN_LOCK = threading.Lock()
_watching = False


# An interrupt that lands between two statements is lost (DuckDB clears it when the next
# one starts), and the statement after it may run for half a minute. So the connections
# open at Ctrl-C are interrupted again and again for a short while, or until closed;
# connections opened afterwards (to report what was written) are left alone.
INTERRUPT_FOR_SECONDS = 3.0


def _keep_interrupting() -> None:
    with _OPEN_LOCK:
        targets = list(_OPEN)
    deadline = time.monotonic() + INTERRUPT_FOR_SECONDS
    while targets and time.monotonic() < deadline:
        with _OPEN_LOCK:
            targets = [con for con in targets if con in _OPEN]
            for con in targets:
                con.interrupt()
        time.sleep(0.05)


def _watch_interrupts() -> None:
    global _watching
    if _watching or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):
        return  # started with Ctrl-C ignored (nohup, a background job): nothing to honour
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:
        os.close(read_end)
        os.close(write_end)
        return
    _watching = True

    def watch() -> None:
        while True:
            if signal.SIGINT in os.read(read_end, 64):
                threading.Thread(target=_keep_interrupting, daemon=True).start()

    threading.Thread(target=watch, name="aimon-interrupt", daemon=True).start()


# Names that are logs, not databases: a --db such as logs.jsonl is a swapped argument.
LOG_SUFFIXES = (".jsonl", ".json", ".ndjson", ".gz", ".parquet", ".csv")


def refuse_non_database(path: Path, *, option: str) -> None:
    """Refuse a --db that is an existing file but not a DuckDB database (DuckDB would
    open a log file as an in-memory view and "store" rows nowhere), or a new one named
    like a log file."""
    if str(path) == ":memory:":
        return
    if path.exists():
        if path.is_file() and not is_database_file(path):
            raise InputError(f"{option} {path} is not a DuckDB database; pass the aimon database "
                             "with --db (log files go as arguments to aimon ingest)")
    elif path.name.lower().endswith(LOG_SUFFIXES):
        raise InputError(f"{option} {path} is named like a log file, not a database; "
                         "use a name such as aimon.duckdb")


def _private_umask(path: Path) -> int:
    """Make files DuckDB creates beside the database (its WAL, spilled blocks, a
    forget's rewrite) no more readable than the database: 0600 for a new one. Returns
    the umask to restore."""
    old = os.umask(0o077)
    if str(path) != ":memory:" and path.exists():
        os.umask(old | (0o077 & ~stat.S_IMODE(path.stat().st_mode)))
    else:
        os.umask(old | 0o077)
    return old


@contextmanager
def private_files(path: Path | str) -> Iterator[None]:
    """While it lasts, files this process creates (DuckDB's beside the database, an
    ingest's staging file) are no more readable than the database at ``path``."""
    old_umask = _private_umask(Path(path))
    try:
        yield
    finally:
        os.umask(old_umask)


@contextmanager
def watched(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Ctrl-C interrupts ``con`` at once, even inside a long statement, while it lasts."""
    _watch_interrupts()
    with _OPEN_LOCK:
        _OPEN.add(con)
    try:
        yield con
    finally:
        with _OPEN_LOCK:
            _OPEN.discard(con)


@contextmanager
def opened(path: Path | str, **kwargs) -> Iterator[duckdb.DuckDBPyConnection]:
    """``connect`` as a context manager that always closes the file; while it is open,
    files created beside the database are as private as the database."""
    with private_files(path):
        con = connect(path, **kwargs)
        try:
            with watched(con):
                yield con
        finally:
            con.close()


@contextmanager
def scratch(path: Path, memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A working database that is not an aimon database (ingest's staging file), set up
    like one (UTC, the memory budget) and interrupted by Ctrl-C like one; always closed."""
    con = duckdb.connect(str(path))
    try:
        _configure(con, "UTC", memory_limit)
        with watched(con):
            yield con
    finally:
        con.close()
