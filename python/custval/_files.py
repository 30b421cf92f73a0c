"""The log the native summary functions read: a Parquet/CSV log streamed one record batch at
a time (:class:`FileLog`), or any other input read at once (:func:`custval._input.transactions`).
:func:`log` picks one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from custval._input import (
    Log,
    Source,
    _check_columns,
    _converted,
    _dataset,
    _nan_ids_as_nulls,
    _null_counts,
    _nulls_error,
    _roles,
    _unreadable,
    _wanted,
    _warn_dropped,
    _without_nulls,
    id_type,
    transactions,
)
from custval.exceptions import ArgumentError

BATCH_ROWS = 1 << 20


def _local_time_type(kind: pa.DataType) -> pa.DataType | None:
    """The local-time type the core reads for a file column of type ``kind``, when it can be
    converted batch by batch to the same type (not strings or zoned times)."""
    if pa.types.is_date32(kind):
        return pa.timestamp("s")
    if pa.types.is_date64(kind):
        return pa.timestamp("ms")
    if pa.types.is_timestamp(kind) and kind.tz is None:
        return kind
    return None


@dataclass
class FileLog:
    """A Parquet/CSV log read one record batch at a time: memory holds one batch (of the
    needed columns) plus the per-customer state, whatever the file size.

    Files are scanned one after the other, so a read error names the file it came from.
    ``rows_where`` (an Arrow expression) keeps only the rows it selects, as the scan reads
    them.
    """

    path: Any
    dataset: ds.Dataset
    names: dict[str, str]
    dropna: bool
    time_unit: str
    kind: str = "other"
    dropped: dict[str, int] = field(default_factory=dict)
    rows_where: ds.Expression | None = None

    @property
    def timezone(self) -> None:
        """Files are streamed only when their times have no zone."""
        return None

    @property
    def time_original(self) -> None:
        """Not kept: the file is not in memory (its times convert by a cast)."""
        return None

    @property
    def customer_type(self) -> pa.DataType:
        return id_type(self.dataset.schema.field(self.names["customer"]).type)

    @property
    def time_type(self) -> pa.DataType:
        return self.dataset.schema.field(self.names["time"]).type

    @property
    def rows(self) -> int:
        """About how many rows (exact for Parquet, from the file size for CSV)."""
        if isinstance(self.dataset.format, ds.ParquetFileFormat):
            return self.dataset.count_rows()
        return sum(os.path.getsize(f) for f in self.dataset.files) // 32

    def _record_batches(self) -> Iterator[pa.RecordBatch]:
        wanted = _wanted(self.names)
        parquet = isinstance(self.dataset.format, ds.ParquetFileFormat)
        for fragment in self.dataset.get_fragments():
            scanner = ds.Scanner.from_fragment(
                fragment,
                schema=self.dataset.schema,
                columns=wanted,
                filter=self.rows_where,
                batch_size=BATCH_ROWS,
                batch_readahead=1,
                # Pre-buffering reads whole column chunks ahead: twice the memory, no faster.
                fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)
                if parquet
                else None,
            )
            try:
                yield from scanner.to_batches()
            except (pa.ArrowInvalid, OSError) as err:  # OSError: corrupt compressed pages
                raise _unreadable(fragment.path, err) from err

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Each record batch's columns, converted for the native core."""
        wanted = _wanted(self.names)
        nulls = dict.fromkeys(wanted, 0)
        dropped = 0
        record_batches = self._record_batches()
        given = 0
        for batch in record_batches:
            given += 1
            table = _nan_ids_as_nulls(pa.Table.from_batches([batch]), self.names["customer"])
            found = _null_counts(table, wanted)
            if any(found.values()):
                nulls = {name: nulls[name] + found[name] for name in wanted}
                if not self.dropna:
                    # Counts the rest, so the error gives the file's total.
                    for rest in record_batches:
                        more = _null_counts(rest, wanted)
                        nulls = {name: nulls[name] + more[name] for name in wanted}
                    raise _nulls_error(nulls)
                kept = _without_nulls(table, wanted)
                dropped += table.num_rows - kept.num_rows
                table = kept
            yield _converted(Source(table, self.kind), self.names).batch()
        if not given:
            # An empty file: one empty batch, so the result still has its schema.
            empty = self.dataset.schema.empty_table().select(wanted)
            yield _converted(Source(empty, self.kind), self.names).batch()
        if dropped:
            self.dropped["nulls"] = dropped
            _warn_dropped(dropped, nulls, stacklevel=1)


def log(
    data: Any,
    *,
    customer: str,
    time: str,
    amount: str | None = None,
    order: str | None = None,
    cost: str | None = None,
    dropna: bool = False,
) -> Log:
    """The log for the native summary functions: a Parquet/CSV path (or a
    ``pyarrow.dataset.Dataset`` of files) whose columns convert batch by batch is streamed
    (see :class:`FileLog`); anything else is read at once."""
    names = _roles(customer=customer, time=time, amount=amount, order=order, cost=cost)
    if isinstance(data, FileLog):  # a file log made for these columns (custval run's)
        if data.names != names:
            raise ArgumentError(f"the file log reads {data.names}, not {names}")
        return data
    if isinstance(data, str | os.PathLike | ds.Dataset):
        if isinstance(data, ds.Dataset):
            dataset = data
            _check_columns(_wanted(names), dataset.schema.names)
        else:
            dataset = _dataset(data, _wanted(names))
        schema = dataset.schema
        local = _local_time_type(schema.field(time).type)
        numeric = all(
            pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            for t in (schema.field(names[r]).type for r in ("amount", "cost") if r in names)
        )
        # String order ids are coded per table: only integer ones keep meaning across batches.
        orders = order is None or pa.types.is_integer(schema.field(order).type)
        if local is not None and numeric and orders:
            return FileLog(data, dataset, names, dropna, local.unit)
    return transactions(
        data, customer=customer, time=time, amount=amount, order=order, cost=cost, dropna=dropna
    )
