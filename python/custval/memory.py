"""Memory custval keeps between calls.

Large blocks (256 KiB and more: result columns, working vectors) are not handed back to the
system when freed but kept, up to 1 GiB, for the next call of the same size: a repeated call
on the same data then finds its memory already mapped instead of paying a page fault per
4 KiB page. The kernel may still reclaim kept blocks under memory pressure (they are marked
``MADV_FREE``), so they never cause an out-of-memory; they do count in the process's
resident size until then. :func:`release_memory` hands them back at once.
"""

from __future__ import annotations

from custval import _native


def release_memory() -> int:
    """Hands the memory custval keeps for reuse back to the system.

    Returns
    -------
    int
        The bytes handed back (0 when nothing was kept, and off Linux, where nothing is).

    Examples
    --------
    >>> import custval
    >>> custval.release_memory() >= 0
    True
    >>> custval.release_memory()
    0
    """
    return _native.release_memory()
