"""custval's thread pool: its size, set once from ``RAYON_NUM_THREADS`` (or the core count)
and changed with :func:`set_num_threads`."""

from __future__ import annotations

from custval import _args, _native


def set_num_threads(n: int) -> None:
    """Sets how many threads custval's native work uses from now on.

    Parameters
    ----------
    n : int
        Threads in custval's pool, at least 1. Results do not depend on it.

    Raises
    ------
    ArgumentError
        When ``n`` is not a whole number of at least 1.

    Examples
    --------
    >>> import custval
    >>> before = custval.get_num_threads()
    >>> custval.set_num_threads(1)
    >>> custval.get_num_threads()
    1
    >>> custval.set_num_threads(before)
    """
    _native.set_num_threads(_args.check_whole(n, "n"))


def get_num_threads() -> int:
    """How many threads custval's native work uses: ``RAYON_NUM_THREADS`` when it is set to a
    positive number at the first call, else the core count, until :func:`set_num_threads`.

    Examples
    --------
    >>> import custval
    >>> custval.get_num_threads() >= 1
    True
    """
    return _native.get_num_threads()
