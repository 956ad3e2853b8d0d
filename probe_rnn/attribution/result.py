"""What an attribution run returns and how its folder is written: :class:`AttributionResult`,
the rows it attributes (:func:`select_rows`), the column it explains per row
(:func:`class_targets`) and its files (:func:`write_frames`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from probe_rnn.atomic import replacing
from probe_rnn.errors import DataError, Mention, ParameterError
from probe_rnn.validation import shown


@dataclass
class AttributionResult:
    """Everything ``attribute`` wrote, as DataFrames (see the module docstring for files)."""

    path: Path
    tokens: pd.DataFrame
    examples: pd.DataFrame
    steps: pd.DataFrame
    neurons: pd.DataFrame
    probe_tokens: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def worst_completeness_error(self) -> float:
        """Largest token completeness error (NaN for methods without one)."""
        err = self.examples["completeness_error"]
        return float(err.max()) if err.notna().any() else float("nan")

    @property
    def worst_step_error(self) -> float:
        """Largest per-step completeness error (IG sum vs ablation effect)."""
        return float(self.steps["completeness_error"].max()) if len(self.steps) else float("nan")

    @property
    def verdict(self) -> str:
        """The completeness verdict, one line (:mod:`probe_rnn.attribution.verdict`)."""
        return str((self.manifest.get("completeness") or {}).get("sentence", ""))

    def _repr_html_(self) -> str:
        head = (f"<p>probe-rnn attribution ({html.escape(str(self.manifest.get('method')))}) of "
                f"{len(self.examples)} sentences in <code>{html.escape(str(self.path))}</code>; "
                f"worst completeness error {self.worst_completeness_error:.2e} (tokens), "
                f"{self.worst_step_error:.2e} (steps); {html.escape(self.verdict)}</p>")
        return head + self.summary.to_html(index=False, escape=True, max_rows=30)


def select_rows(df: pd.DataFrame, rows: int | Sequence[int] | None, seed: int) -> np.ndarray:
    """Row numbers (positions in ``df``) to attribute: explicit, or a seeded stratified sample."""
    if rows is not None and not isinstance(rows, int | np.integer):
        picked = np.asarray(list(rows), dtype=np.int64)
        bad = picked[(picked < 0) | (picked >= len(df))]
        if len(bad) or len(picked) == 0:
            raise ParameterError("rows", f"row numbers of the table, 0..{len(df) - 1}",
                                 shown(bad.tolist() or list(picked)))
        return np.unique(picked)
    n = 24 if rows is None else int(rows)
    if n < 1:
        raise ParameterError("rows", "at least 1", shown(n))
    pool = np.arange(len(df))
    if "split" in df.columns and (df["split"] == "test").sum() >= n:
        pool = np.flatnonzero((df["split"] == "test").to_numpy())
    rng = np.random.default_rng(seed)
    labels = df["label"].astype(str).to_numpy()[pool]
    queues = [list(rng.permutation(pool[labels == lab])) for lab in sorted(set(labels))]
    order: list[int] = []
    while len(order) < min(n, len(pool)):
        for queue in queues:
            if queue and len(order) < n:
                order.append(int(queue.pop()))
    return np.sort(np.asarray(order, dtype=np.int64))


def class_targets(df: pd.DataFrame, labels: list[str], logits: torch.Tensor, target: str
                  ) -> torch.Tensor:
    """The column explained per row: the predicted class, the gold ``label``'s, or 0 (the one
    value of a ``continuation`` or a ``score``)."""
    if target in ("continuation", "score"):
        return torch.zeros(len(df), dtype=torch.long)
    if target == "prediction":
        return logits.argmax(1)
    index = {name: i for i, name in enumerate(labels)}
    gold = df["label"].astype(str).tolist()
    missing = sorted(set(gold) - set(index))
    if missing:
        raise DataError(f"labels {missing[:3]} are not among the model's labels {labels[:5]}; "
                        "use ", Mention("target", "prediction"),
                        " or data the model was trained for")
    return torch.tensor([index[g] for g in gold])


def start_run(out_dir: str | Path, df: pd.DataFrame, rows: int | Sequence[int] | None,
              seed: int) -> tuple[Path, np.ndarray, pd.DataFrame]:
    """Start an attribution run: the folder made and its manifest removed (a folder without
    one is an unfinished run), torch seeded, and the rows picked (:func:`select_rows`) with
    their table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    torch.manual_seed(seed)
    picked = select_rows(df, rows, seed)
    return out, picked, df.iloc[picked].reset_index(drop=True)


def write_frames(out: Path, files: dict[str, pd.DataFrame], summary: pd.DataFrame) -> None:
    """Write each frame as parquet (``files``: name -> frame) and ``summary.csv`` into ``out``,
    each replaced whole."""
    for name, frame in files.items():
        with replacing(out / name) as tmp:
            frame.reset_index(drop=True).to_parquet(tmp, index=False)
    with replacing(out / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False)


def write_manifest(out: Path, files: dict[str, pd.DataFrame], settings: dict[str, Any],
                   rows: np.ndarray, bundle: Any, found: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` last (it marks the folder complete) and return it: the format,
    ``settings``, the ``rows`` attributed, the model's checksum, what was ``found`` (twin
    check, worst errors, completeness), the versions and the sha256 of ``files`` and
    ``summary.csv``."""
    import datetime as _dt
    import json

    import captum

    from probe_rnn.atomic import write_text
    from probe_rnn.hashing import file_sha256

    manifest = {
        "format": "probe-rnn-attribution", "format_version": 1,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **settings, "rows": rows.tolist(), "model_checksum": getattr(bundle, "checksum", None),
        **found,
        "versions": {"torch": torch.__version__, "captum": captum.__version__},
        "files": {n: file_sha256(out / n) for n in [*files, "summary.csv"]},
    }
    write_text(out / "manifest.json", json.dumps(manifest, indent=2))
    return manifest


def nanmax(series: pd.Series) -> float | None:
    """The largest value, or None when every value is NaN."""
    return float(series.max()) if series.notna().any() else None
