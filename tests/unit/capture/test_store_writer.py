"""Writing a state store folder (``probe_rnn.capture.store_writer``): preallocated ``.npy`` files
filled by positioned writes hash to the bytes on disk and load as the rows written (numpy and
hashlib are the references); the meta schema types the fixed and the extra columns; and a
manifest that lists no views is refused when the folder is read back."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from probe_rnn.capture.store import MANIFEST, STORE_FORMAT, StateStore
from probe_rnn.capture.store_writer import META_COLUMNS, NpyFile, meta_schema
from probe_rnn.errors import StoreError


@pytest.mark.parametrize("order", ["in order", "out of order"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_npy_file_holds_the_rows_written_and_hashes_the_file(tmp_path, order, dtype) -> None:
    rows = np.random.default_rng(3).normal(size=(7, 2, 3)).astype(dtype)
    path = tmp_path / "view.npy"
    npy = NpyFile(path, rows.shape, dtype)
    chunks = [(0, 3), (3, 5), (5, 7)] if order == "in order" else [(5, 7), (0, 3), (3, 5)]
    for start, stop in chunks:
        npy.write(start, rows[start:stop])
    npy.close()
    np.testing.assert_array_equal(np.load(path), rows)
    assert npy.sha256() == hashlib.sha256(path.read_bytes()).hexdigest()
    reference = tmp_path / "reference.npy"
    np.save(reference, rows)
    assert path.read_bytes() == reference.read_bytes()  # a plain .npy, header included


def test_an_attached_npy_file_writes_its_rows_into_a_preallocated_one(tmp_path) -> None:
    rows = np.arange(12, dtype=np.float32).reshape(6, 2)
    path = tmp_path / "view.npy"
    first = NpyFile(path, rows.shape, "float32")
    first.write(0, rows[:2])
    first.close()
    shard = NpyFile.attach(path, rows.shape, "float32")  # another process's rows 2..5
    shard.write(2, rows[2:])
    shard.close()
    np.testing.assert_array_equal(np.load(path), rows)
    assert shard.sha256() == hashlib.sha256(path.read_bytes()).hexdigest()


def test_meta_schema_types_fixed_columns_then_extras() -> None:
    df = pd.DataFrame({"year": [1999, 2004], "source": ["a", None], "empty": [None, None],
                       "mixed": [1, "x"]})
    schema = meta_schema(df, ["year", "source", "empty", "mixed"])
    assert schema.names == [*META_COLUMNS, "year", "source", "empty", "mixed"]
    assert schema.field("tokens").type == pa.list_(pa.string())
    assert schema.field("year").type == pa.int64()
    source = schema.field("source").type  # as Arrow reads the column (large with pandas 3)
    assert pa.types.is_string(source) or pa.types.is_large_string(source)
    assert schema.field("empty").type == pa.string()  # all-null: stored as strings
    assert schema.field("mixed").type == pa.string()  # Arrow cannot type it: strings


def test_a_manifest_without_views_is_a_store_error(tmp_path) -> None:
    folder = tmp_path / "states"
    folder.mkdir()

    for views in (None, {"output@last": {"kind": "sentence"}}):
        manifest = {"format": STORE_FORMAT, "format_version": 1}
        if views is not None:
            manifest["views"] = views
        (folder / MANIFEST).write_text(json.dumps(manifest))
        with pytest.raises(StoreError, match=r"lists no views .* re-run `probe-rnn capture`"):
            StateStore(folder)
