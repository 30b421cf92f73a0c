"""The job's input: files, directories and globs → one checked, streamable Arrow dataset.

Every file is opened before any work starts, so a corrupt footer, a missing column or a column
whose type drifted between files fails the run at once, naming the file. What the rest of the
job reads is a ``pyarrow.dataset.Dataset`` that custval streams one record batch at a time.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from custval.batch.errors import ExitCode, JobError

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")


@dataclass(frozen=True)
class InputFile:
    """One input file as the manifest lists it."""

    path: str
    bytes: int
    rows: int


@dataclass(frozen=True)
class Inputs:
    """The resolved input: its files, their format and the dataset over them."""

    files: tuple[InputFile, ...]
    format: str  # "parquet" or "csv"
    dataset: ds.Dataset

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def _bad(message: str) -> JobError:
    return JobError(ExitCode.BAD_INPUT, message)


def _visible(name: str) -> bool:
    """Not a marker or hidden file (Spark's ``_SUCCESS``, ``.crc`` files, editors' swaps)."""
    return not name.startswith((".", "_"))


def _expand(item: str) -> list[str]:
    """The files one INPUT names: itself, a directory's files (recursively) or a glob's."""
    if os.path.isdir(item):
        found = []
        for root, dirs, names in os.walk(item):
            dirs[:] = [d for d in dirs if _visible(d)]
            found += [os.path.join(root, name) for name in names if _visible(name)]
        if not found:
            raise _bad(f"input directory {item!r} holds no files")
        return sorted(found)
    if glob.has_magic(item):
        found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
        if not found:
            raise _bad(f"input glob {item!r} matches no file")
        return found
    if not os.path.exists(item):
        raise _bad(f"input {item!r} does not exist")
    return [item]


def _format_of(path: str) -> str:
    lower = path.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    raise _bad(f"input {path!r}: unknown format; name Parquet files *.parquet and CSV files *.csv")


def resolve_paths(items: Sequence[str]) -> tuple[list[str], str]:
    """(the input files in a fixed order, their one format)."""
    paths = list(dict.fromkeys(p for item in items for p in _expand(item)))
    formats = {p: _format_of(p) for p in paths}
    kinds = sorted(set(formats.values()))
    if len(kinds) > 1:
        first = {kind: next(p for p, k in formats.items() if k == kind) for kind in kinds}
        raise _bad(
            "inputs mix Parquet and CSV files ("
            + ", ".join(f"{k}: {p!r}" for k, p in first.items())
            + "); give one format"
        )
    return paths, kinds[0]


def _csv_format(roles: dict[str, str]) -> ds.CsvFileFormat:
    """CSV read with the types the job streams: times as timestamps, amounts as floats (read
    back exactly as their shortest decimal), order ids as integers."""
    types = {roles["time"]: pa.timestamp("us")}
    if "amount" in roles:
        types[roles["amount"]] = pa.float64()
    if "order" in roles:
        types[roles["order"]] = pa.int64()
    return ds.CsvFileFormat(convert_options=pacsv.ConvertOptions(column_types=types))


def _schema_and_rows(path: str, file_format: str, csv: ds.CsvFileFormat) -> tuple[pa.Schema, int]:
    try:
        if file_format == "parquet":
            meta = pq.ParquetFile(path).metadata
            return meta.schema.to_arrow_schema(), meta.num_rows
        fragment = next(ds.dataset(path, format=csv).get_fragments())
        return fragment.physical_schema, fragment.count_rows()
    except (pa.ArrowInvalid, OSError) as err:
        raise _bad(f"cannot read {path!r}: {err}") from None


def _streamable(path: str, schema: pa.Schema, roles: dict[str, str]) -> None:
    """The types custval streams batch by batch; anything else would need the whole log in
    memory, which a nightly job over hundreds of millions of rows must not do."""
    kind = schema.field(roles["time"]).type
    if not (pa.types.is_date(kind) or (pa.types.is_timestamp(kind) and kind.tz is None)):
        raise _bad(
            f"{path!r}: column {roles['time']!r} is {kind}; custval run streams its input and "
            "needs timestamps without a zone or dates (convert the column when writing it)"
        )
    for role in ("amount", "order"):
        if role in roles:
            kind = schema.field(roles[role]).type
            numeric = pa.types.is_integer(kind) or (
                role == "amount" and (pa.types.is_floating(kind) or pa.types.is_decimal(kind))
            )
            if not numeric:
                what = "numbers" if role == "amount" else "integers"
                raise _bad(f"{path!r}: column {roles[role]!r} is {kind}; it must hold {what}")


def open_inputs(items: Sequence[str], roles: dict[str, str]) -> Inputs:
    """Resolve, open and check every input file; the dataset the job streams.

    ``roles`` maps "customer", "time" and the optional "amount" and "order" to column names.
    """
    paths, file_format = resolve_paths(items)
    csv = _csv_format(roles)
    wanted = list(dict.fromkeys(roles.values()))
    files, reference = [], None
    for path in paths:
        schema, rows = _schema_and_rows(path, file_format, csv)
        for name in wanted:
            if name not in schema.names:
                raise _bad(
                    f"{path!r}: column {name!r} is missing"
                    + (f" (it is in {reference[0]!r})" if reference else "")
                    + f"; the file has {', '.join(map(repr, schema.names))}"
                )
        if reference is None:
            _streamable(path, schema, roles)
            reference = (path, schema)
        else:
            for name in wanted:
                here, there = schema.field(name).type, reference[1].field(name).type
                if here != there:
                    raise _bad(
                        f"{path!r}: column {name!r} is {here}, but {there} in "
                        f"{reference[0]!r} (schema drift between input files)"
                    )
        files.append(InputFile(path=path, bytes=os.path.getsize(path), rows=rows))
    schema = pa.schema([reference[1].field(name) for name in wanted])
    dataset = ds.dataset(
        paths, schema=schema, format="parquet" if file_format == "parquet" else csv
    )
    return Inputs(files=tuple(files), format=file_format, dataset=dataset)
