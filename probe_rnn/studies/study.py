"""A finished readout study: its tidy tables, settings and trained models, on disk and back.

:class:`ReadoutStudy` is what :func:`~probe_rnn.studies.compare_readouts` returns: per-run
scores and training curves, the summary and paired differences per readout (within each
loss), the probing headline and the diagnosis of one trained model. :meth:`ReadoutStudy.save`
writes it as csv/json plus one checkpoint per trained model; :meth:`ReadoutStudy.load` reads it
back to re-render its page without training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from probe_rnn.studies.objectives import OBJECTIVES, Objective

_TABLES = ("runs", "curves", "summary", "pairs", "probing", "diagnosis")


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


@dataclass
class ReadoutStudy:
    """Results of :func:`compare_readouts`; every table is a tidy DataFrame.

    Attributes
    ----------
    runs : pd.DataFrame
        One row per (readout, seed): ``readout, seed, dev_accuracy, test_accuracy, epochs_run,
        best_epoch, still_improving, seconds`` (``still_improving``: the best epoch was the
        last one run).
    curves : pd.DataFrame
        Training history: ``readout, seed, epoch, train_loss, dev_accuracy``.
    summary : pd.DataFrame
        Per readout: ``readout, n_seeds, mean, std, ci_low, ci_high, min, max, vs_best``
        (test accuracy as a fraction; 95% Student-t interval across seeds, each seed on its own
        split, Nadeau–Bengio corrected, never narrower than the test set's binomial error;
        ``vs_best`` Holm-corrected over the comparisons with the best).
    pairs : pd.DataFrame
        Paired differences ``a − b``: ``readout_a, readout_b, n_pairs, mean_diff, std_diff,
        ci_low, ci_high, p_value, mdd, verdict`` (``mdd``: the minimum difference detected
        with 80% power).
    probing : pd.DataFrame
        Label probing per trained model: ``readout, seed, view, metric, value, ci_low,
        ci_high`` (metrics ``bits``, ``accuracy``, ``entropy_bits``); empty when not probed.
    diagnosis : pd.DataFrame
        :func:`probe_rnn.capture.diagnose` of one trained model (``settings["diagnosed"]``
        names its readout and seed), measured on the probing sample with the training batch
        size: ``module, check, value, unit, explanation``.
    settings : dict
        Objective, metric, architecture, budget, data sizes, seeds, jobs, wall time.
    models : dict
        Run name (``objective-loss-readout-seedN``) -> trained
        :class:`~probe_rnn.models.ModelBundle`; empty for a study read back by :meth:`load`
        (the checkpoints are in ``DIR/models``).

    For ``autoencode`` and ``siamese`` the score columns are the objective's
    (:data:`OBJECTIVES`: ``settings["metric"]`` names the compared one), every table has a
    ``loss`` column, and summaries and paired differences are computed within each loss.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame
    pairs: pd.DataFrame
    probing: pd.DataFrame
    diagnosis: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def objective(self) -> Objective:
        """The setting studied (``classify`` for studies written before objectives existed)."""
        return OBJECTIVES[self.settings.get("objective", "classify")]

    @property
    def losses(self) -> list[str | None]:
        """Losses in study order (``[None]`` for a table without a ``loss`` column)."""
        if "loss" not in self.summary:
            return [None]
        return list(dict.fromkeys(self.summary["loss"]))

    def summary_for(self, loss: str | None = None) -> pd.DataFrame:
        """The summary rows of one loss (the first loss by default)."""
        loss = self.losses[0] if loss is None else loss
        if loss is None:
            return self.summary
        return self.summary[self.summary["loss"] == loss].reset_index(drop=True)

    @property
    def best(self) -> str:
        """The readout with the highest mean score (first in order on ties; first loss)."""
        return self.best_for()

    def best_for(self, loss: str | None = None) -> str:
        """The readout with the highest mean score under ``loss`` (first loss by default)."""
        part = self.summary_for(loss)
        return str(part.loc[part["mean"].idxmax(), "readout"])

    @property
    def ratio(self) -> float:
        """Nadeau–Bengio ``n_test / n_train`` of the seeds' own splits (0 when the seeds shared
        one split, as in studies written before each seed drew its own)."""
        return float(self.settings.get("nb_ratio", 0.0))

    def still_improving(self) -> pd.DataFrame:
        """The runs whose best dev epoch was their last (still improving when the budget ran
        out), from ``best_epoch`` and ``epochs_run``."""
        runs = self.runs
        if runs.empty or not {"best_epoch", "epochs_run"} <= set(runs.columns):
            return runs.iloc[0:0]
        return runs[runs["best_epoch"] >= runs["epochs_run"]]

    @property
    def seconds(self) -> float:
        """Wall time of the whole study in seconds."""
        return float(self.settings.get("seconds", float("nan")))

    def probing_headline(self, loss: str | None = None) -> pd.DataFrame:
        """Label bits per readout (rows) and view (columns), mean over seeds, of the models
        trained with ``loss`` (the first loss by default)."""
        if self.probing.empty:
            return pd.DataFrame()
        bits = self.probing[self.probing["metric"] == "bits"]
        loss = self.losses[0] if loss is None else loss
        if loss is not None and "loss" in bits:
            bits = bits[bits["loss"] == loss]
        table = bits.pivot_table(index="readout", columns="view", values="value", aggfunc="mean")
        order = [r for r in self.summary_for(loss)["readout"] if r in table.index]
        return table.loc[order, [v for v in self.settings.get("probe_views", []) if v in table]]

    def diagnosis_value(self, check: str) -> float | None:
        """Value of one diagnosis check (first recurrent module), ``None`` when absent."""
        d = self.diagnosis
        if d.empty or "check" not in d:
            return None
        hit = d[d["check"] == check]
        return float(hit["value"].iloc[0]) if not hit.empty else None

    def pair(self, a: str, b: str, loss: str | None = None) -> pd.Series | None:
        """The paired-difference row of ``a − b`` (sign flipped when stored as ``b − a``),
        within ``loss`` (the first loss by default)."""
        p = self.pairs
        loss = self.losses[0] if loss is None else loss
        if loss is not None and "loss" in p:
            p = p[p["loss"] == loss]
        hit = p[(p["readout_a"] == a) & (p["readout_b"] == b)]
        if not hit.empty:
            return hit.iloc[0]
        hit = p[(p["readout_a"] == b) & (p["readout_b"] == a)]
        if hit.empty:
            return None
        row = hit.iloc[0].copy()
        row["readout_a"], row["readout_b"] = a, b
        # 0.0 − x, not −x: a zero difference stays +0.0 (no "-0.0 points" on the page)
        row["mean_diff"] = 0.0 - row["mean_diff"]
        row["ci_low"], row["ci_high"] = 0.0 - hit.iloc[0]["ci_high"], 0.0 - hit.iloc[0]["ci_low"]
        return row

    def save(self, out_dir: str | Path) -> Path:
        """Write every table as csv (and settings as json) into ``out_dir``, and every trained
        model as ``out_dir/models/<run>.pt``; return ``out_dir``."""
        import json

        from probe_rnn.models import save_checkpoint

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name in _TABLES:
            getattr(self, name).to_csv(out / f"{name}.csv", index=False)
        for run, bundle in self.models.items():
            save_checkpoint(out / "models" / f"{run}.pt", bundle)
        (out / "study.json").write_text(
            json.dumps({"settings": self.settings}, indent=2, default=str), encoding="utf-8")
        return out

    @classmethod
    def load(cls, out_dir: str | Path) -> ReadoutStudy:
        """Read a study written by :meth:`save` (to re-render its page without training)."""
        import json

        from probe_rnn.errors import ReportError

        folder = Path(out_dir)
        try:
            frames = {name: _read_csv(folder / f"{name}.csv") for name in _TABLES}
            settings = json.loads((folder / "study.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReportError(f"{folder} does not hold a complete readout study ({exc}); run "
                              "probe-rnn compare-readouts again") from exc
        return cls(**frames, settings=settings["settings"])

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False, float_format=lambda x: f"{x:.4f}")
