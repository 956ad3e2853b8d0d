"""2-D projections (UMAP or PCA) of stored states, fitted once per view and cached.

UMAP's ``transform`` depends on the batch it is given, so each view is fitted once on exactly
the points the report shows (a seeded subsample of at most ``max_points`` rows) and the
coordinates are kept in ``DIR/projections/<safe-view>.<method>.parquet``. The file carries a
hash of everything that determines the result (method, parameters, seed, view, row ids and the
state values themselves); a later report whose inputs hash the same reads the coordinates
instead of refitting. umap-learn is imported lazily, its numba code compiled once per machine
(:mod:`probe_rnn.report.compiled_umap`): the first fit on a machine compiles for 15-60 s.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from probe_rnn.atomic import replacing
from probe_rnn.errors import ConfigError
from probe_rnn.hashing import sha256
from probe_rnn.report.compiled_umap import UMAP_PARAMS, fit_umap

METHODS = ("umap", "pca")
_KEY = b"probe_rnn.key"
_CACHE_VERSION = "1"


def subsample(n_rows: int, max_points: int, seed: int) -> np.ndarray:
    """Sorted row indices of a seeded sample of at most ``max_points`` of ``n_rows`` rows."""
    if n_rows <= max_points:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=max_points, replace=False))


def _fit_pca(x: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    n_comp = min(2, x.shape[0], x.shape[1])
    coords = PCA(n_components=n_comp, svd_solver="full", random_state=seed).fit_transform(x)
    if n_comp < 2:
        coords = np.column_stack([coords, np.zeros((len(coords), 2 - n_comp))])
    return coords


def fit_projection(x: np.ndarray, method: str, seed: int) -> np.ndarray:
    """Fit a 2-D projection.

    Parameters
    ----------
    x : np.ndarray
        States, shape ``(rows, dim)``, finite.
    method : {"umap", "pca"}
    seed : int
        ``random_state`` of the fitter.

    Returns
    -------
    np.ndarray
        Coordinates, shape ``(rows, 2)``, float64.
    """
    if method not in METHODS:
        raise ConfigError(f"projection method must be one of {list(METHODS)}, got {method!r}")
    if x.shape[0] < 3:
        raise ConfigError(f"a projection needs at least 3 rows, got {x.shape[0]}")
    fitter = fit_umap if method == "umap" else _fit_pca
    return np.asarray(fitter(np.asarray(x, dtype=np.float32), seed), dtype=np.float64)


def safe_view_name(view: str) -> str:
    """File-system safe form of a view name, e.g. ``mean(output)`` -> ``mean_output_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", view.replace("/", "."))


def cache_file(run_dir: str | Path, view: str, method: str) -> Path:
    """Where the coordinates of ``view`` projected with ``method`` are cached."""
    return Path(run_dir) / "projections" / f"{safe_view_name(view)}.{method}.parquet"


def input_key(view: str, rows: np.ndarray, x: np.ndarray, method: str, seed: int) -> str:
    """sha256 of everything that determines a projection's coordinates."""
    digest = sha256()
    params = UMAP_PARAMS if method == "umap" else {"svd_solver": "full"}
    header = f"{_CACHE_VERSION}|{method}|{sorted(params.items())}|{seed}|{view}|{x.shape}"
    digest.update(header.encode())
    digest.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    return digest.hexdigest()


def _read_cache(file: Path, key: str, rows: np.ndarray) -> np.ndarray | None:
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException):
        return None
    meta = table.schema.metadata or {}
    if meta.get(_KEY, b"").decode() != key:
        return None
    df = table.to_pandas()
    if len(df) != len(rows) or not np.array_equal(df["row"].to_numpy(), rows):
        return None
    return df[["x", "y"]].to_numpy(dtype=np.float64)


def _write_cache(file: Path, key: str, view: str, method: str, rows: np.ndarray,
                 coords: np.ndarray) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame({"row": rows.astype(np.int64), "x": coords[:, 0], "y": coords[:, 1]})
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.update({_KEY: key.encode(), b"probe_rnn.view": view.encode(),
                 b"probe_rnn.method": method.encode()})
    with replacing(file) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)


def cached_projection(
    run_dir: str | Path, view: str, rows: np.ndarray, x: np.ndarray, method: str, seed: int,
) -> tuple[np.ndarray, bool]:
    """Coordinates of ``x`` from the cache when its inputs match, else fitted and cached.

    Parameters
    ----------
    run_dir : str or Path
        Run folder; the cache lives in its ``projections/``.
    view : str
        View name (part of the key and the file name).
    rows : np.ndarray
        Row ids of the points, shape ``(rows,)``.
    x : np.ndarray
        Their states, shape ``(rows, dim)``.
    method : {"umap", "pca"}
    seed : int

    Returns
    -------
    coords : np.ndarray
        Shape ``(rows, 2)``.
    hit : bool
        Whether the coordinates came from the cache.
    """
    key = input_key(view, rows, x, method, seed)
    file = cache_file(run_dir, view, method)
    if file.is_file():
        coords = _read_cache(file, key, rows)
        if coords is not None:
            return coords, True
    coords = fit_projection(x, method, seed)
    try:
        _write_cache(file, key, view, method, rows, coords)
    except OSError:
        pass  # a read-only run folder still gets its report, just without a cache
    return coords, False
