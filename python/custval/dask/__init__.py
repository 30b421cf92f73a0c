"""custval on a Dask cluster: the same answers as in memory, exactly, whatever the partitions.

Install with ``pip install custval[dask]``. Each function takes a
:class:`dask.dataframe.DataFrame` (or a Parquet path/glob, read with
:func:`dask.dataframe.read_parquet`) and the keywords of its in-memory namesake. The rows are
shuffled once by a hash of the customer id, the native kernels run on each partition inside
the workers, and base-level answers are merged on the client from additive partials (exact
integer money and counts). Options that need the whole log (``observation_end`` defaulting
to the last transaction, the span of a retention table) are resolved in one reduction first.
Per-customer answers come back as Dask DataFrames indexed by customer; base-level ones as the
small in-memory results of custval (pandas frames, :class:`custval.Kpis`,
:class:`custval.Concentration`). Models fit on Dask summaries directly
(``custval.BetaGeo().fit(summary)``); :func:`predict`, :func:`p_alive` and
:func:`customer_lifetime_value` run per partition; :func:`evaluate` gathers the
calibration/holdout table's columns on the client.

Any scheduler works: a ``dask.distributed.Client`` connected to a cluster (whatever its
address), a ``LocalCluster``, or the local threaded and synchronous schedulers.
"""

from custval.dask.metrics import cohorts, retention, rfm_segments, value_concentration
from custval.dask.models import (
    customer_lifetime_value,
    evaluate,
    p_alive,
    predict,
    unique_rows,
)
from custval.dask.summary import calibration_holdout, kpis, rfm_summary

__all__ = [
    "calibration_holdout",
    "cohorts",
    "customer_lifetime_value",
    "evaluate",
    "kpis",
    "p_alive",
    "predict",
    "retention",
    "rfm_segments",
    "rfm_summary",
    "unique_rows",
    "value_concentration",
]
