"""A batch job's OS errors as one line that names the path and the fix, never a traceback.

Every read and write of a job's files (input, output, journal, errors file) goes through
:func:`job_file`, which turns an ``OSError`` into a :class:`~inferopt.errors.JobFileError`. The
journal stays intact: a write cut by a full disk leaves at most a torn last line, which the next
run repairs (see ``journal.py``).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from inferopt.errors import JobFileError

_FIXES = {
    errno.ENOSPC: ("the disk is full", "free some space, then run the same command again to continue"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space, then run the same command again to continue"),
    errno.EROFS: ("the file system is read-only", "write the output to a writable folder with -o"),
    errno.EACCES: ("permission denied", "write the output to a folder you may write to with -o, or fix its rights"),
    errno.EPERM: ("permission denied", "write the output to a folder you may write to with -o, or fix its rights"),
    errno.ENOENT: ("no such file or folder", "check the path, or create the folder first"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path given with -o"),
    errno.EISDIR: ("it is a folder", "give a file path"),
}


def describe(error: OSError, path: Path, doing: str) -> JobFileError:
    """``error`` (raised while ``doing`` something to ``path``) as a one-line JobFileError."""
    where = error.filename or path
    what, fix = _FIXES.get(error.errno or 0, (error.strerror or str(error), "check the path and try again"))
    return JobFileError(f"cannot {doing} {where}: {what}; {fix}", path=str(where), errno=error.errno)


@contextmanager
def job_file(path: Path, doing: str) -> Iterator[None]:
    """Run the block; an OSError in it becomes a JobFileError about ``path``."""
    try:
        yield
    except OSError as exc:
        raise describe(exc, path, doing) from None
