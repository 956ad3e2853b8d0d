"""The sentence table's schema with a second text, and its copy from Arrow streams."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from probe_rnn.capture.meta_table import META_COLUMNS, meta_schema, stream_to_parquet, strings


def test_a_pair_table_adds_length_2_after_the_fixed_columns() -> None:
    df = pd.DataFrame({"text": ["a"], "year": [2020]})
    plain, pair = meta_schema(df, ["year"]), meta_schema(df, ["year"], pair=True)
    assert plain.names == [*META_COLUMNS, "year"]
    assert pair.names == [*META_COLUMNS, "length_2", "year"]  # tokens_2: only with text_2
    assert pair.field("length_2").type == pa.int64()


def test_streams_are_copied_into_one_parquet_in_order(tmp_path: Path) -> None:
    schema = pa.schema([pa.field("row", pa.int64())])
    streams = []
    for k, rows in enumerate(([0, 1], [2], [3, 4, 5])):
        path = tmp_path / f"s{k}.arrows"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            writer.write_table(pa.table({"row": rows}, schema=schema))
        streams.append(path)
    stream_to_parquet(streams, tmp_path / "meta.parquet", rows_per_group=2)
    assert pd.read_parquet(tmp_path / "meta.parquet")["row"].tolist() == list(range(6))
    assert not any(p.exists() for p in streams)


def test_strings_keep_missing_values_missing() -> None:
    assert strings(pd.Series([1, None, "x", float("nan")])) == ["1", None, "x", None]


def test_a_table_with_its_second_text_adds_its_tokens_and_a_pair_model_its_score() -> None:
    df = pd.DataFrame({"text": ["a"], "text_2": ["b"]})
    schema = meta_schema(df, ["text_2"], pair=True, kind="score")
    assert schema.names == [*META_COLUMNS, "length_2", "text_2", "tokens_2", "score"]
