"""A log with a product column → the coded lines the native basket kernels read.

Products are numbered by their sorted value (so code order is product order: pairs come out
with ``product_a < product_b`` and ties break by product id), customers by first appearance,
order ids by the log's own order codes. The labels are kept to name the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custval import _frames, _input, _native
from custval.exceptions import SchemaError


@dataclass
class Lines:
    """Coded lines (``batch``, columns named by role), the user's column names by role, and
    the labels codes stand for."""

    batch: pa.RecordBatch
    names: dict[str, str]
    products: pa.Array  # product code → product id (sorted)
    customers: pa.Array | None  # customer code → customer id
    kind: str  # the input's kind: decides the output type
    dropped: dict[str, int]
    time_unit: str | None = None
    timezone: str | None = None

    @property
    def n_products(self) -> int:
        return len(self.products)

    def product_ids(self, codes: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """The product ids that product ``codes`` stand for. Integer ids that are exactly
        0..n−1 are their own codes: a cast, not a gather."""
        labels, n = self.products, len(self.products)
        if (
            pa.types.is_integer(labels.type)
            and n
            and labels[0].as_py() == 0
            and labels[n - 1].as_py() == n - 1  # sorted and distinct: all of 0..n−1
        ):
            return codes.cast(labels.type)
        return labels.take(codes)

    def output(self, table: pa.Table, output: str, *, index: str | None = None, **fields: Any):
        """A result ``table`` as ``output`` for this input, with ``fields`` and the rows
        dropped for nulls as its metadata."""
        metadata = {**fields, "rows_dropped_null": self.dropped.get("nulls", 0)}
        target = _frames.resolve(output, self.kind)
        return _frames.convert(table, target, index=index, metadata=metadata)

    def filtered(self, keep: pa.Array) -> Lines:
        """The lines where ``keep`` is true (codes and labels unchanged)."""
        return Lines(
            self.batch.filter(keep),
            self.names,
            self.products,
            self.customers,
            self.kind,
            self.dropped,
            self.time_unit,
            self.timezone,
        )


def _plain(column: pa.ChunkedArray) -> pa.Array:
    """One array of the column's values (dictionaries decoded, views made plain strings)."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_string_view(array.type):
        array = array.cast(pa.large_string())
    return array


def _ids(column: pa.ChunkedArray, name: str, what: str) -> pa.Array:
    array = _plain(column)
    kind = array.type
    if not (
        pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)
    ):
        raise SchemaError(f"column {name!r}: {what} ids must be integers or strings, not {kind}")
    return array


# Most codes numbered by offset, gaps included: tables this long cost a kernel little.
NARROW = 1 << 16


def product_codes(
    column: pa.ChunkedArray, name: str, *, gaps: bool = False
) -> tuple[pa.Array, pa.Array]:
    """(each line's product code, the sorted products the codes index). With ``gaps``,
    integer ids spanning at most :data:`NARROW` values are numbered by their offset in
    that span, so some codes may stand for ids the log lacks: for kernels that ignore a
    product never bought (affinity), which then skip the pass that ranks the ids."""
    values = _ids(column, name, "product")
    if pa.types.is_integer(values.type) and len(values) and values.null_count == 0:
        coded = _narrow_integer_codes(values) if gaps else None
        if coded is None:
            coded = _dense_integer_codes(values)
        if coded is not None:
            return coded
    distinct = pc.unique(values)
    distinct = distinct.take(pc.sort_indices(distinct))
    return pc.index_in(values, value_set=distinct).cast(pa.int64()), distinct


def _narrow_integer_codes(values: pa.Array) -> tuple[pa.Array, pa.Array] | None:
    """Integer ids spanning at most :data:`NARROW` values: each id's offset from the least
    (the ids themselves when they start at 0 or just above: no copy), with every id of
    the span as the labels. ``None`` for wider spans."""
    try:
        ids = values.cast(pa.int64())  # no copy when already int64
    except pa.ArrowInvalid:
        return None
    bounds = _native.id_bounds(ids.to_numpy())  # one parallel pass, no marks
    if bounds is None:
        return None
    lo, hi = bounds
    if 0 <= lo and hi < NARROW:
        return ids, pa.array(np.arange(hi + 1, dtype=np.int64)).cast(values.type)
    if hi - lo < NARROW:
        offsets = pa.array(ids.to_numpy() - lo)
        return offsets, pa.array(np.arange(lo, hi + 1, dtype=np.int64)).cast(values.type)
    return None


def _dense_integer_codes(values: pa.Array) -> tuple[pa.Array, pa.Array] | None:
    """Integer ids spanning a range not much wider than the lines: the codes are each id's
    rank among the ids present, read from a table over the range (no hashing). ``None``
    for wider ranges (and for ids past the int64 range)."""
    try:
        ids = values.cast(pa.int64())  # no copy when already int64
    except pa.ArrowInvalid:
        return None
    offsets = ids.to_numpy()
    span = _native.id_span(offsets, 4 * len(values) + 1024)  # one parallel pass
    if span is None:
        return None
    lo, hi, distinct = span
    if lo != 0:
        offsets = offsets - lo
    if distinct == hi - lo + 1:
        # Every id of the range occurs: its rank is its offset (no gather).
        distinct_ids = pa.array(np.arange(lo, hi + 1, dtype=np.int64)).cast(values.type)
        return pa.array(offsets), distinct_ids
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[offsets] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    distinct_ids = pa.array(np.flatnonzero(present) + lo).cast(values.type)
    return pa.array(rank[offsets]), distinct_ids


def customer_codes(column: pa.ChunkedArray, name: str) -> tuple[pa.Array, pa.Array]:
    """(each line's customer code, the customers in first-appearance order)."""
    encoded = pc.dictionary_encode(_ids(column, name, "customer"))
    return encoded.indices.cast(pa.int64()), encoded.dictionary


def quantities(column: pa.ChunkedArray, name: str) -> pa.Array:
    array = _plain(column)
    if not pa.types.is_integer(array.type):
        raise SchemaError(f"column {name!r}: quantities must be integers, not {array.type}")
    return array.cast(pa.int64())


def read(
    data: Any,
    *,
    product: str,
    order: str | None = None,
    customer: str | None = None,
    time: str | None = None,
    amount: str | None = None,
    quantity: str | None = None,
    dropna: bool = False,
    product_gaps: bool = False,
) -> Lines:
    """The coded lines of ``data`` (any input kind :mod:`custval` reads); ``product_gaps``
    as :func:`product_codes`' ``gaps``."""
    names = {
        role: column
        for role, column in dict(
            order=order,
            product=product,
            customer=customer,
            time=time,
            amount=amount,
            quantity=quantity,
        ).items()
        if column is not None
    }
    wanted = list(dict.fromkeys(names.values()))
    source = _input.read_table(data, wanted)
    source = _input.drop_nulls(source, wanted, dropna)
    table = source.table
    codes, products = product_codes(table.column(product), product, gaps=product_gaps)
    columns = {"product": codes}
    customers = None
    time_unit = timezone = None
    if order is not None:
        columns["order"] = _input.order_codes(table.column(order), order)
    if customer is not None:
        columns["customer"], customers = customer_codes(table.column(customer), customer)
    if time is not None:
        local, original = _input.times(table.column(time), time)
        columns["time"] = local.cast(pa.int64())
        time_unit, timezone = local.type.unit, getattr(original.type, "tz", None)
    if amount is not None:
        columns["amount"] = _input.amounts(table.column(amount), amount)
    if quantity is not None:
        columns["quantity"] = quantities(table.column(quantity), quantity)
    batch = pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns))
    return Lines(
        batch, names, products, customers, source.kind, source.dropped, time_unit, timezone
    )
