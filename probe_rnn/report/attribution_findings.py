"""Findings on the attributions: completeness of the token attributions and where the most
attributed token sits."""

from __future__ import annotations

import pandas as pd

from probe_rnn.report.measures import percent


def attribution_findings(attribution: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    """The attribution sentences and their anchors: completeness, where the top token sits."""
    out = []
    ex = attribution.get("examples")
    if ex is not None and "completeness_error" in ex and ex["completeness_error"].notna().any():
        err = ex["completeness_error"].dropna().astype(float)
        if err.max() <= 0.05:
            text = (f"Token attributions pass their completeness check on all {len(err)} "
                    f"sentences (median error {percent(err.median())}, "
                    f"worst {percent(err.max())}).")
        else:
            text = (f"Token attributions miss completeness on {int((err > 0.05).sum())} of "
                    f"{len(err)} sentences (worst error {percent(err.max())}): read those "
                    "heatmaps with care.")
        out.append((text, "attribution-tokens"))
    tok = attribution.get("tokens")
    if tok is not None and "which_text" in tok and tok["row"].nunique() >= 3:  # two texts
        top = tok.loc[tok["attribution"].abs().groupby(tok["row"]).idxmax()]
        first, n = int((top["which_text"] == 1).sum()), len(top)
        out.append((f"The most attributed token lies in the first text in {first} of {n} "
                    f"attributed rows and in the second text in {n - first}.",
                    "attribution-tokens"))
    elif tok is not None and not tok.empty and tok["row"].nunique() >= 3:
        pos = tok.assign(a=tok["attribution"].abs()).sort_values(["row", "position"])
        top = pos.loc[pos.groupby("row")["a"].idxmax()]
        last = pos.groupby("row")["position"].max()
        n = len(top)
        first = int((top["position"].to_numpy() == pos.groupby("row")["position"].min()
                     .loc[top["row"]].to_numpy()).sum())
        at_end = int((top["position"].to_numpy() == last.loc[top["row"]].to_numpy()).sum())
        text = (f"The most attributed token is the first token in {first} of {n} attributed "
                f"sentences and the last token in {at_end} of {n}.")
        out.append((text, "attribution-tokens"))
    return out
