"""The answer page of a run of every setting: ``DIR/index.html`` above one study page per setting.

It answers the question for the three settings at once, from a
:class:`~probe_rnn.studies.QuestionAnswer`: a few sentences, the table "setting × loss → which
readout wins, by how much, how sure" (the margin is the paired difference winner − runner-up
across seeds, with its 95% interval), hidden − last per setting, and the asker's anecdote checked
claim by claim against the measured paired differences. Each setting's own page
(``DIR/<objective>/index.html``) holds the evidence. The winner is "best by point estimate" and
"how sure" is the runner-up's Holm-corrected verdict against it; the asker's ``output[-1]`` is
checked under both readings (``naive-last`` on a padded batch, ``last`` where no row is padded).
Same page rules as the report: autoescape,
a hash-based Content-Security-Policy, nothing fetched.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe_rnn import __version__
from probe_rnn.errors import ReportError
from probe_rnn.report.page import environment, page_assets
from probe_rnn.report.readouts import write_readout_report
from probe_rnn.report.tables import Table

if TYPE_CHECKING:
    from probe_rnn.studies.question import QuestionAnswer

TEMPLATE = "answer.html.j2"


def _score(x: float, percent: bool) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x * 100:.1f}%" if percent else f"{x:.3f}"


def _diff(x: Any, low: Any, high: Any) -> str:
    def bad(v: Any) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v))

    if bad(x):
        return "–"
    if bad(low):
        return f"{x * 100:+.1f}"
    return f"{x * 100:+.1f} ({low * 100:+.1f} to {high * 100:+.1f})"


def _get(row: Any, name: str) -> Any:
    value = row.get(name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def answer_sentences(answer: QuestionAnswer) -> list[str]:
    """One sentence per setting and loss: the winner, its margin and hidden − last."""
    out = []
    for _, row in answer.table().iterrows():
        loss = f" ({row['loss']} loss)" if row["objective"] == "siamese" else ""
        text = (f"{row['setting'][:1].upper()}{row['setting'][1:]}{loss}: {row['winner']} is "
                f"best by point estimate with {row['metric']} "
                f"{_score(row['mean'], row['percent'])}")
        if _get(row, "runner_up") is not None:
            text += (f", ahead of {row['runner_up']} by "
                     f"{_diff(row['margin'], _get(row, 'margin_low'), _get(row, 'margin_high'))}"
                     f" points ({row['margin_verdict']})")
        if _get(row, "hl_verdict") is not None:
            hl = _diff(row["hidden_minus_last"], _get(row, "hl_low"), _get(row, "hl_high"))
            text += f"; hidden − last = {hl} points ({row['hl_verdict']})"
        out.append(text + ".")
    return out


def _answer_table(answer: QuestionAnswer) -> Table:
    rows, keys = [], []
    for _, r in answer.table().iterrows():
        ci = ("" if _get(r, "ci_low") is None else
              f"{_score(r['ci_low'], r['percent'])} to {_score(r['ci_high'], r['percent'])}")
        rows.append([r["objective"], str(r["loss"]), r["metric"], r["winner"],
                     _score(r["mean"], r["percent"]), ci, str(_get(r, "runner_up") or "–"),
                     _diff(_get(r, "margin"), _get(r, "margin_low"), _get(r, "margin_high")),
                     str(_get(r, "margin_verdict") or "–"),
                     _diff(_get(r, "hidden_minus_last"), _get(r, "hl_low"), _get(r, "hl_high")),
                     str(_get(r, "hl_verdict") or "–")])
        keys.append([None] * 4 + [r["mean"]] + [None] * 6)
    return Table(["setting", "loss", "score", "best by point estimate", "its mean",
                  "95% CI (t, seeds with their own splits)", "runner-up",
                  "best − runner-up, points (95% CI)", "how sure (Holm over the comparisons "
                  "with the best)",
                  "hidden − last, points (95% CI)", "verdict"], rows, keys)


def _anecdote_table(answer: QuestionAnswer) -> Table:
    rows, keys = [], []
    for _, r in answer.anecdote().iterrows():
        rows.append([r["claim"], str(r.get("output[-1] read as", "")), f"{r['a']} − {r['b']}",
                     _diff(_get(r, "mean_diff"), _get(r, "ci_low"), _get(r, "ci_high")),
                     str(r["n_pairs"]), r["verdict"]])
        keys.append([None, None, None, _get(r, "mean_diff"), float(r["n_pairs"]), None])
    return Table(["the asker's claim", "the asker's output[-1] read as", "measured a − b",
                  "points (95% CI, paired seeds)", "paired seeds", "on this data"], rows, keys,
                 "The asker read output[-1] of PyTorch's time-major output: the last position "
                 "of the batch. On a padded batch that is the naive-last readout; only where no "
                 "row is padded (batch size 1, rows of one length) is it the last readout. The "
                 "post does not say which, so each claim is checked under both. Points: "
                 "percentage points of accuracy, or 0.01 of a pair ROC AUC. 'agrees' needs the "
                 "whole 95% interval above 0, 'contradicts' below 0.")


def render_answer_page(answer: QuestionAnswer, title: str) -> str:
    """The answer page as a string (self-contained)."""
    env = environment()
    studies = [{"name": name, "setting": s.objective.setting, "metric": s.objective.metric_label,
                "runs": len(s.runs), "seconds": s.seconds}
               for name, s in answer.studies.items()]
    return env.get_template(TEMPLATE).render(
        **page_assets(), version=__version__, title=title, sentences=answer_sentences(answer),
        answer_table=_answer_table(answer), anecdote=_anecdote_table(answer), studies=studies,
        built=datetime.now(UTC).isoformat(timespec="seconds"))


def write_answer_page(answer: QuestionAnswer, out_dir: str | Path, title: str) -> Path:
    """Write every study's page into ``out_dir/<objective>/`` and the answer page
    ``out_dir/index.html`` (with ``answer.csv``, ``anecdote.csv``); return its path."""
    out = Path(out_dir)
    try:
        for name, study in answer.studies.items():  # saves the study, then its page
            write_readout_report(study, out / name, title)
        answer.table().to_csv(out / "answer.csv", index=False)
        answer.anecdote().to_csv(out / "anecdote.csv", index=False)
        page = out / "index.html"
        page.write_text(render_answer_page(answer, title), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write the answer page into {out}: {exc.strerror or exc}"
                          ) from exc
    return page
