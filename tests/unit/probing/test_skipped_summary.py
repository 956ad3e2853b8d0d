"""Cells skipped for one reason are one warning for their task, not one per cell."""

from __future__ import annotations

import warnings

from probe_rnn.probing.runner import _announce


def _record(model: str, view: str, task: str, reason: str) -> dict[str, str]:
    return {"status": "skipped", "model": model, "view": view, "task": task, "probe": "logistic",
            "reason": reason}


def test_sixteen_single_class_cells_are_one_warning() -> None:
    views = ["output@last", "output@-1", "mean(output)", "max(output)", "h_n/L0/fwd",
             "c_n/L0/fwd", "h_n/L0/bwd", "c_n/L0/bwd"]
    records = [_record(m, v, "prediction", "a single class")
               for m in ("trained", "random-init") for v in views]
    records.append(_record("trained", "output@last", "length", "fewer than 5 sentences"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        failed = _announce(records)
    assert failed == []
    texts = [str(w.message) for w in caught]
    assert texts == [
        "task 'prediction' skipped on 16 cell(s) (trained, random-init; view(s) output@last, "
        "output@-1, mean(output), max(output) and 4 more): a single class (every probed row "
        "has the same target: nothing to tell apart)",
        "task 'length' skipped on 1 cell(s) (trained; view(s) output@last): fewer than 5 "
        "sentences"]
