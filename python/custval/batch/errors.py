"""The job's exit codes and the one exception that carries one (DESIGN.md: few, documented)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What ``custval run`` returns to the scheduler."""

    OK = 0
    USAGE = 2  # argparse's own code for a bad command line, kept for our checks too
    BAD_INPUT = 3
    NOT_CONVERGED = 4
    CANNOT_WRITE = 5
    TERMINATED = 143  # 128 + SIGTERM, what a shell reports for a process killed by it


class JobError(Exception):
    """A failure the job reports with its exit code and a message for the log."""

    def __init__(self, code: ExitCode, message: str):
        super().__init__(message)
        self.code = code


class Terminated(BaseException):
    """SIGTERM arrived (Airflow's timeout or a kill): unwind, clean the staging directory.

    A ``BaseException`` so that no ``except Exception`` on the way swallows it.
    """
