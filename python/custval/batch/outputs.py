"""Writing the job's outputs as one transaction: a staging directory beside OUTDIR, renamed
into place only when every file is complete (Airflow's "a task is a transaction").

A run that fails or is killed leaves OUTDIR as it was (the previous complete output, or
nothing): SIGTERM unwinds through :class:`~custval.batch.errors.Terminated` and the staging
directory is removed; one left by SIGKILL is recognised by its dead owner's pid and removed by
the next run. Data files are byte-identical for the same inputs and options: no clock in them,
rows in a fixed order, Parquet written with fixed settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custval.batch.errors import ExitCode, JobError, Terminated

_STAGING = ".{name}.custval-staging-{pid}-"
_REPLACED = ".{name}.custval-replaced-{pid}"


def _cannot_write(path: str, err: OSError) -> JobError:
    return JobError(ExitCode.CANNOT_WRITE, f"cannot write {path!r}: {err.strerror or err}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove_abandoned(parent: str, name: str) -> list[str]:
    """Staging directories of runs that were killed outright (their pid is gone)."""
    prefix = f".{name}.custval-"
    removed = []
    for entry in os.listdir(parent):
        if not entry.startswith(prefix):
            continue
        parts = entry[len(prefix) :].split("-")  # "staging-PID-xxxx" or "replaced-PID"
        pid_text = parts[1] if len(parts) > 1 else ""
        if pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
            removed.append(entry)
    return removed


class Staging:
    """The directory the outputs are written to before they become OUTDIR."""

    def __init__(self, outdir: str):
        self.outdir = os.path.abspath(outdir)
        self.parent, self.name = os.path.split(self.outdir)
        if not self.name:
            raise JobError(ExitCode.USAGE, f"-o {outdir!r}: name a directory")
        try:
            os.makedirs(self.parent, exist_ok=True)
            self.abandoned = _remove_abandoned(self.parent, self.name)
            self.path = tempfile.mkdtemp(
                prefix=_STAGING.format(name=self.name, pid=os.getpid()), dir=self.parent
            )
            # mkdtemp makes it private (0700); OUTDIR gets the usual mode, as mkdir would.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.path, 0o777 & ~umask)
        except OSError as err:
            raise _cannot_write(self.parent, err) from None
        self.files: dict[str, dict[str, Any]] = {}

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _written(self, name: str, rows: int | None = None) -> None:
        path = self.file(name)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        entry: dict[str, Any] = {"bytes": os.path.getsize(path), "sha256": digest.hexdigest()}
        if rows is not None:
            entry["rows"] = rows
        self.files[name] = entry

    def write_table(self, table: pa.Table, stem: str, file_format: str) -> str:
        """``table`` as ``stem.parquet`` or ``stem.csv``; returns the file name."""
        name = f"{stem}.{file_format}"
        try:
            if file_format == "csv":
                pacsv.write_csv(table, self.file(name))
            else:
                # Fixed settings (and no statistics of wall-clock values): same bytes each run.
                pq.write_table(table, self.file(name), compression="zstd", row_group_size=1 << 20)
        except OSError as err:
            raise _cannot_write(self.file(name), err) from None
        self._written(name, table.num_rows)
        return name

    def write_json(self, payload: Any, name: str) -> str:
        text = json.dumps(payload, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
        return self.write_text(text, name)

    def write_text(self, text: str, name: str) -> str:
        try:
            with open(self.file(name), "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as err:
            raise _cannot_write(self.file(name), err) from None
        self._written(name)
        return name

    def commit(self) -> None:
        """Make the staged files OUTDIR: the old OUTDIR, if any, moves aside first and is
        removed after, so OUTDIR is always either the old complete output or the new one."""
        replaced = None
        try:
            if os.path.lexists(self.outdir):
                replaced = os.path.join(
                    self.parent, _REPLACED.format(name=self.name, pid=os.getpid())
                )
                os.rename(self.outdir, replaced)
            os.rename(self.path, self.outdir)
        except OSError as err:
            if replaced is not None and not os.path.lexists(self.outdir):
                os.rename(replaced, self.outdir)
            raise _cannot_write(self.outdir, err) from None
        if replaced is not None:
            shutil.rmtree(replaced, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the main thread while the job runs (Python runs
    the handler between bytecodes, after the native call in progress returns)."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
