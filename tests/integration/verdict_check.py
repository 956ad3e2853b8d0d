"""Recompute every verdict of a report's findings from the run's own tables, without
probe-rnn code: per-split values from ``values.parquet``, the Nadeau–Bengio corrected t-test
with scipy, Holm's step-down by hand over each family of claims.

A report writes the tested comparisons behind each finding into ``data-claims`` (JSON) on the
finding's list item; :func:`check_findings` reads them from ``index.html``, recomputes each,
and checks that the finding's sentence says what the recomputed verdicts say.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd
from scipy import stats

ALPHA = 0.05


def findings_with_claims(report: Path) -> list[tuple[str, list[dict]]]:
    """(sentence text, claims) of each finding of the first probe's findings list."""
    page = report.read_text(encoding="utf-8")
    section = page[page.index('<section id="findings">'):]
    section = section[:section.index("</section>")]
    first = section[:section.index("</ol>")]
    items = re.findall(r'<li data-claims="([^"]*)">(.*?)<a class="evidence"', first, re.S)
    return [(html.unescape(re.sub(r"<[^>]+>", "", text)).strip(),
             json.loads(html.unescape(claims))) for claims, text in items]


def _cell(df: pd.DataFrame, model: str, view: str, task: str, probe: str, metric: str,
          t: int | None) -> pd.DataFrame:
    sel = ((df["model"] == model) & (df["view"] == view) & (df["task"] == task)
           & (df["probe"] == probe) & (df["metric"] == metric))
    sel &= df["t"].isna() if t is None else (df["t"] == t)
    return df[sel]


def _p_value(claim: dict, results: pd.DataFrame, values: pd.DataFrame) -> tuple[float, float]:
    """(mean per-split difference a − b, two-sided p) of one claim."""
    t, task, probe = claim["t"], claim["task"], claim["probe"]
    majority = claim["b"] == "majority"
    a = _cell(values, claim["model"], claim["a"], task, probe, claim["metric"], t)
    b = (_cell(values, claim["model"], claim["a"], task, probe, "majority_accuracy", t)
         if majority else _cell(values, claim["model_b"], claim["b"], task, probe,
                                claim["metric"], t))
    assert set(a["protocol"]) == {"kfold"}, claim  # the demo's cells are all K-fold
    split = lambda df: df[(df["draw"] < 0) & (df["split"] >= 0)][["seed", "split", "value"]]  # noqa: E731
    both = split(a).merge(split(b), on=["seed", "split"])
    d = (both["value_x"] - both["value_y"]).to_numpy(dtype=float)
    n = len(d)
    assert n >= 2, claim
    row = _cell(results, claim["model"], claim["a"], task, probe, "accuracy"
                if majority else claim["metric"], t).iloc[0]
    ratio = (1 / (int(row["folds"]) - 1) if t is not None
             else float(row["n_test"]) / float(row["n_train"]))
    se = math.sqrt(d.var(ddof=1) * (1 / n + ratio))
    if se == 0:
        return float(d.mean()), 1.0 if d.mean() == 0 else 0.0
    return float(d.mean()), float(2 * stats.t.sf(abs(d.mean()) / se, n - 1))


def _holm(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, p[i] * (len(p) - rank)))
        out[i] = running
    return out


def recomputed_verdicts(claims: list[dict], results: pd.DataFrame, values: pd.DataFrame
                        ) -> list[str]:
    """The verdict of each claim, recomputed and Holm-corrected within its family."""
    families: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(claims):
        families[c["family"]].append(i)
    out = [""] * len(claims)
    for members in families.values():
        tested = [_p_value(claims[i], results, values) for i in members]
        adjusted = _holm([p for _, p in tested])
        for i, (mean, _), q in zip(members, tested, adjusted, strict=True):
            out[i] = ("within noise" if q > ALPHA else "above" if mean > 0 else "below")
    return out


def _said(text: str, claims: list[dict], verdicts: list[str]) -> None:
    """The sentence states what the recomputed verdicts say."""
    family = claims[0]["family"].split(":")[0]
    above = [c for c, v in zip(claims, verdicts, strict=True) if v == "above"]
    below = [c for c, v in zip(claims, verdicts, strict=True) if v == "below"]
    if family == "majority":
        if above:
            assert text.startswith(f"{len(above)} of {len(claims)} views are clearly above")
        else:
            assert text.startswith("No view is clearly above"), text
    elif family == "best":
        assert ("measurably worse than it" in text) == bool(below), text
        within = [c["a"] for c, v in zip(claims, verdicts, strict=True) if v == "within noise"]
        assert ("within noise of it" in text) == bool(within) or "very same" in text, text
        assert not above, "a view above the best by point estimate"
    elif family == "scan":
        if above:
            first = min(above, key=lambda c: abs(c["t"]))["t"]
            assert f"first clearly exceeds the majority-class baseline at t={first} " in text
        else:
            assert "never clearly above" in text, text
    elif family == "pair":
        (v,) = verdicts
        assert ("within noise of" in text) == (v == "within noise"), text
        if v != "within noise":
            assert (" more " in text) == (v == "above") and (" less " in text) == (v == "below")
    elif family == "random":
        (v,) = verdicts
        assert text.startswith("Training matters") == (v != "within noise"), text
        assert ("within noise of the trained model" in text) == (v == "within noise"), text


def check_findings(run: Path) -> int:
    """Recompute every claimed verdict of ``run/index.html`` and check each finding's
    sentence against it; returns the number of claims checked."""
    results = pd.read_parquet(run / "results.parquet")
    values = pd.read_parquet(run / "values.parquet")
    checked = 0
    for text, claims in findings_with_claims(run / "index.html"):
        if not claims:
            continue
        verdicts = recomputed_verdicts(claims, results, values)
        assert [c["verdict"] for c in claims] == verdicts, (text, claims, verdicts)
        _said(text, claims, verdicts)
        checked += len(claims)
    return checked


__all__ = ["check_findings", "findings_with_claims", "recomputed_verdicts"]
