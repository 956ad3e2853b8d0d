"""The sentence table of a state store, ``meta.parquet``: its columns and how it is written.

The store writer (:mod:`probe_rnn.capture.store_writer`) streams one row group per batch as
Arrow IPC (:func:`meta_schema` types it) and copies the streams into Parquet at the end, in
large row groups (:func:`stream_to_parquet`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from probe_rnn.capture.model_columns import model_fields

META_COLUMNS = ("row", "text", "label", "label_id", "length", "split", "prediction",
                "prediction_id", "probability", "correct", "tokens")


def meta_schema(df: pd.DataFrame, extras: list[str], pair: bool = False,
                kind: str = "logits") -> pa.Schema:
    """Arrow schema of ``meta.parquet``: the fixed columns (and ``length_2``, text 2's tokens,
    when ``pair``: the batches have a second text), then the table's extra columns (typed
    from the whole column; columns Arrow cannot type are stored as strings), then the columns
    of what a model returning ``kind`` gives (:func:`~probe_rnn.capture.model_columns.
    model_fields`)."""
    fields = [
        pa.field("row", pa.int64()), pa.field("text", pa.string()), pa.field("label", pa.string()),
        pa.field("label_id", pa.int64()), pa.field("length", pa.int64()),
        pa.field("split", pa.string()), pa.field("prediction", pa.string()),
        pa.field("prediction_id", pa.int64()), pa.field("probability", pa.float64()),
        pa.field("correct", pa.bool_()), pa.field("tokens", pa.list_(pa.string())),
    ]
    if pair:
        fields.append(pa.field("length_2", pa.int64()))
    for column in extras:
        try:
            typed = pa.Array.from_pandas(df[column]).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            typed = pa.string()
        if pa.types.is_dictionary(typed):
            typed = typed.value_type
        fields.append(pa.field(str(column), pa.string() if pa.types.is_null(typed) else typed))
    return pa.schema(fields + model_fields(kind, "text_2" in df.columns))


def stream_to_parquet(streams: list[Path], target: Path, rows_per_group: int = 16384) -> None:
    """Copy Arrow IPC streams, one after the other, into Parquet, a bounded number of rows at a
    time; the streams are removed.

    Meta rows are streamed to IPC during the capture (a ParquetWriter fed one small row group
    per batch keeps growing its memory); here they are regrouped into large row groups.
    """
    out = None
    pending: list[pa.RecordBatch] = []
    try:
        for stream in streams:
            with pa.OSFile(str(stream), "rb") as source, pa.ipc.open_stream(source) as reader:
                out = out or pq.ParquetWriter(target, reader.schema)
                for batch in reader:
                    pending.append(batch)
                    if sum(b.num_rows for b in pending) >= rows_per_group:
                        out.write_table(pa.Table.from_batches(pending))
                        pending = []
        if pending and out is not None:
            out.write_table(pa.Table.from_batches(pending))
    finally:
        if out is not None:
            out.close()
    for stream in streams:
        stream.unlink()


def strings(values: pd.Series) -> list[str | None]:
    """Values as strings, missing ones as None."""
    return [None if missing(v) else str(v) for v in values]


def missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: never "missing" as a whole
        return False
