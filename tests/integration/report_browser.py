"""Helpers of the real-browser report tests: launch Debian's chromium through playwright,
record errors and requests, hover a plotly point and read its hover label, and read the
report's opening answer and check it against the run folder's own tables."""

from __future__ import annotations

import html
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"


@dataclass
class Visit:
    """What happened while a page was open."""

    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """No page error, no console error or warning, and every request stayed on ``file:``."""
        assert self.errors == [], self.errors
        assert self.console == [], self.console
        assert self.requests and all(u.startswith("file:") for u in self.requests), self.requests


def require_browser() -> Any:
    """The playwright module; skip locally when chromium is missing, but FAIL under CI, which
    installs it (``bash .ci/setup --with-browser``), so a green CI always ran the browser."""
    missing = not Path(CHROMIUM).is_file() and shutil.which("chromium") is None
    if os.environ.get("CI"):
        if missing:
            pytest.fail("chromium is missing under CI: .ci/setup --with-browser must install it")
        import playwright.sync_api as playwright

        return playwright
    playwright = pytest.importorskip("playwright.sync_api")
    if missing:
        pytest.skip("Debian's chromium is not installed (bash .ci/setup --with-browser)")
    return playwright


def open_report(p: Any, path: Path, visit: Visit, width: int = 1280) -> tuple[Any, Any]:
    """Open ``path`` in a fresh headless chromium page; wait until every figure is drawn."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("pageerror", lambda exc: visit.errors.append(str(exc)))
    page.on("console", lambda m: visit.console.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("request", lambda r: visit.requests.append(r.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('div.figure'))"
        ".every(d => d.classList.contains('js-plotly-plot') && d._fullLayout)",
        timeout=60_000)
    return browser, page


def hover_point(page: Any, div_id: str, curve: int, point: int) -> tuple[str, str]:
    """Hover one point with ``Plotly.Fx.hover``; return (its text as the page holds it, the
    hover label's visible text once the label shows that point)."""
    page.locator(f"#{div_id}").scroll_into_view_if_needed()
    raw = page.evaluate(
        "([id, c, p]) => { const gd = document.getElementById(id); Plotly.Fx.unhover(gd);"
        " return gd.data[c].text[p]; }", [div_id, curve, point])
    page.wait_for_timeout(60)  # plotly throttles hover calls to one per 50 ms
    page.evaluate(
        "([id, c, p]) => Plotly.Fx.hover(document.getElementById(id),"
        " [{curveNumber: c, pointNumber: p}])", [div_id, curve, point])
    try:
        page.wait_for_function(
            "([id, want]) => { const h = document.querySelector('#' + id +"
            " ' .hoverlayer .hovertext'); return h && h.textContent.includes(want); }",
            arg=[div_id, shown(raw)], timeout=5_000)
    except Exception:  # a timeout: the caller's assertion reports what was shown
        pass
    label = page.evaluate(
        "(id) => { const h = document.querySelector('#' + id + ' .hoverlayer .hovertext');"
        " return h ? h.textContent : ''; }", div_id)
    return raw, label


def shown(raw: str) -> str:
    """What plotly displays for an escaped hover text: entities decoded, ``<br>`` a break."""
    return html.unescape(raw.replace("<br>", ""))


def screenshot(page: Any, name: str) -> Path:
    """Save a whole-page PNG under reports/screenshots/ (git-ignored) for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": min(height, 16_000)})
    page.wait_for_timeout(800)
    out = SCREENSHOTS / name
    page.screenshot(path=str(out))
    return out


def opening(page: Any) -> dict[str, Any]:
    """What a reader sees first: the page's first visible lines, and the opening answer's
    sentences with the (text, href) of each of their links."""
    return page.evaluate(
        "() => { const lines = document.body.innerText.split('\\n').map(s => s.trim())"
        ".filter(s => s);"
        " const p = Array.from(document.querySelectorAll('p.answer'))"
        ".find(e => e.offsetParent !== null);"
        " const ss = p ? Array.from(p.querySelectorAll('.answer-sentence')) : [];"
        " return {lines: lines.slice(0, 3), sentences: ss.map(s => s.innerText),"
        " links: ss.map(s => Array.from(s.querySelectorAll('a'))"
        ".map(a => [a.textContent, a.getAttribute('href')]))}; }")


def assert_links_resolve(page: Any, report: Path, links: list[list[str]]) -> None:
    """Every link goes to an element of this page, or to a file beside it holding the id."""
    for text, href in links:
        where, _, anchor = href.partition("#")
        if not where:
            assert page.evaluate("(id) => !!document.getElementById(id)", anchor), (text, href)
            continue
        target = report.parent / where
        assert target.is_file(), (text, href)
        if anchor:
            assert f'id="{anchor}"' in target.read_text(encoding="utf-8"), (text, href)


def _three(x: float) -> str:
    """A number as the report's tables print it (3 decimals, 3 significant digits below
    0.001)."""
    if abs(x) < 1e-12:
        x = 0.0
    return f"{x:.3g}" if x != 0 and abs(x) < 1e-3 else f"{x:.3f}"


def expected_probing(run: Path) -> list[tuple[str, str | None]]:
    """From results.parquet and values.parquet alone (no probe_rnn code): the label bits of
    ``output@last`` and of ``h_n`` of the top layer (``h_n/L{top}``, both directions
    concatenated, else each direction probed), each with its interval,
    and each ``h_n``'s paired difference from ``output@last`` over the same splits with its
    Nadeau–Bengio interval and its verdict, as (text, verdict) in the answer's order."""
    from scipy import stats

    results = pd.read_parquet(run / "results.parquet")
    values = pd.read_parquet(run / "values.parquet")
    top = max(int(m[1]) for v in results["view"].unique()
              if (m := re.match(r"h_n/L(\d+)(/|$)", str(v))))
    probed = set(results["view"])
    # both directions concatenated (what a `hidden` head reads) where probed, else the halves
    views = [f"h_n/L{top}"] if f"h_n/L{top}" in probed else [
        v for v in (f"h_n/L{top}/fwd", f"h_n/L{top}/bwd") if v in probed]

    def cell(df: pd.DataFrame, view: str) -> pd.DataFrame:
        return df[(df["model"] == "trained") & (df["task"] == "label") & (df["metric"] == "bits")
                  & df["t"].isna() & (df["probe"] == "logistic") & (df["view"] == view)]

    def number(view: str) -> str:
        r = cell(results, view)
        value, low, high = r["value"].mean(), r["ci_low"].mean(), r["ci_high"].mean()
        if math.isnan(low) or math.isnan(high):
            return _three(value)
        return f"{_three(value)} [{_three(low)}, {_three(high)}]"

    def splits(view: str) -> pd.DataFrame:
        v = cell(values, view)
        return v[(v["draw"] < 0) & (v["split"] >= 0)][["seed", "split", "value"]]

    out: list[tuple[str, str | None]] = [(number("output@last"), None)]
    for view in views:
        both = splits(view).merge(splits("output@last"), on=["seed", "split"])
        d = (both["value_x"] - both["value_y"]).to_numpy()
        if len(d) < 3:  # a t-interval needs 3 values here (probe_rnn's MIN_CI_VALUES)
            out += [(number(view), None), (f"{d.mean():+.3f}", "no interval")]
            continue
        row = cell(results, view).iloc[0]
        half = float(stats.t.ppf(0.975, len(d) - 1)) * math.sqrt(
            d.var(ddof=1) * (1 / len(d) + float(row["n_test"]) / float(row["n_train"])))
        mean, low, high = d.mean(), d.mean() - half, d.mean() + half
        verdict = "within noise" if low <= 0 <= high else "more" if mean > 0 else "less"
        out += [(number(view), None), (f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]", verdict)]
    return out


def assert_answer_matches_run(sentence: str, links: list[list[str]], run: Path) -> None:
    """The answer's first sentence: each number read from the run's own tables, linked to
    the label table, and each difference followed by the verdict its interval supports."""
    expected = expected_probing(run)
    assert [text for text, _ in links] == [text for text, _ in expected], (links, expected)
    assert {href for _, href in links} == {"#probing-controls"}
    for text, verdict in expected:
        if verdict is not None:
            assert re.search(re.escape(text) + rf"( bits)?: {verdict}\)", sentence), (text,
                                                                                      sentence)
    verdicts = {v for _, v in expected if v}
    if "no interval" in verdicts:
        assert "which one a classifier should read is untested" in sentence
    elif verdicts == {"within noise"}:
        assert "can read either" in sentence
    elif verdicts == {"less"}:
        assert "should read the output" in sentence


def expected_study(study: Path) -> tuple[list[str], str]:
    """From the study's summary.csv and pairs.csv: the test accuracy of ``last`` and
    ``hidden`` with their intervals and ``last − hidden`` with its paired interval, as the
    study's page prints them, and the verdict the interval supports."""
    summary = pd.read_csv(study / "summary.csv").set_index("readout")
    pairs = pd.read_csv(study / "pairs.csv")
    pct = lambda x: f"{x * 100:.2f}%"  # noqa: E731
    numbers = [f"{pct(summary.loc[r, 'mean'])} (95% CI {pct(summary.loc[r, 'ci_low'])} to "
               f"{pct(summary.loc[r, 'ci_high'])})" for r in ("last", "hidden")]
    hit = pairs[(pairs["readout_a"] == "last") & (pairs["readout_b"] == "hidden")]
    if hit.empty:  # stored as hidden − last
        p = pairs[(pairs["readout_a"] == "hidden") & (pairs["readout_b"] == "last")].iloc[0]
        p = p.copy()
        p["mean_diff"], p["ci_low"], p["ci_high"] = -p["mean_diff"], -p["ci_high"], -p["ci_low"]
    else:
        p = hit.iloc[0]
    numbers.append(f"{p['mean_diff'] * 100:+.2f} points (paired 95% CI {p['ci_low'] * 100:+.2f}"
                   f" to {p['ci_high'] * 100:+.2f})")
    inside = p["ci_low"] <= 0 <= p["ci_high"]
    return numbers, "within noise" if inside else "better by"


def assert_opening(page: Any, report: Path, study: bool = True) -> None:
    """The first visible sentence under the title answers "output or hidden state?" with the
    run's own numbers (recomputed from its tables), each linked to an existing anchor; the
    next one gives the readouts study's trained comparison from the study's own tables (or,
    without ``study``, says the run holds none)."""
    seen = opening(page)
    title, first = seen["lines"][0], seen["sentences"][0]
    assert title.startswith("What do the states of")
    assert seen["lines"][1].startswith(first) and first.startswith("Output or hidden state? ")
    if study:  # the study (a head retrained per readout) leads, the probes follow, one bottom line
        numbers, verdict = expected_study(report.parent / "readouts")
        assert [t for t, _ in seen["links"][0] if t != "readouts study"] == numbers
        assert verdict in first.split(numbers[-1])[1]
        probing = seen["sentences"][1]
        assert probing.startswith("Probes: For this model's own readout")
        assert_answer_matches_run(probing, seen["links"][1], report.parent)
        assert seen["sentences"][2].startswith("Bottom line: ")
    else:
        assert_answer_matches_run(first, seen["links"][0], report.parent)
        assert "holds no readouts study" in seen["sentences"][1]
    for links in seen["links"]:
        assert_links_resolve(page, report, links)


def expected_use(run: Path, view: str = "output@last") -> list[str]:
    """From interventions.parquet alone (no probe_rnn code): the numbers the opening's use
    sentence gives for the state the head depends on, as the page prints them: the accuracy
    drop under erasure, its random-subspace control (2 decimals, 2 significant digits below
    0.01, with the interval) and the patching follow rate (whole percent with the
    interval)."""
    table = pd.read_parquet(run / "interventions.parquet")

    def pick(intervention: str, measure: str) -> pd.Series:
        hit = table[(table["intervention"] == intervention) & (table["view"] == view)
                    & (table["measure"] == measure) & table["step"].isna()]
        return hit.iloc[0]

    drop, control = pick("erasure", "accuracy_drop"), pick("erasure-control", "accuracy_drop")
    follow = pick("patching", "follow_rate")
    num = lambda x: f"{x:.2f}" if x == 0 or abs(x) >= 0.01 else f"{x:.2g}"  # noqa: E731
    two = lambda r: f"{num(r['value'])} [{num(r['ci_low'])}, {num(r['ci_high'])}]"  # noqa: E731
    pct = lambda x: f"{100 * x:.0f}%"  # noqa: E731
    return [two(drop), two(control),
            f"{pct(follow['value'])} [{pct(follow['ci_low'])}, {pct(follow['ci_high'])}]"]


def assert_use_sentence(page: Any, report: Path, view: str | None = None) -> str:
    """The opening answer's last sentence says which state the head uses (``view`` when
    given; else the state it names first, ``output@last`` when it names none), with the
    numbers of the run folder's interventions table, each linked to the section showing them."""
    seen = opening(page)
    sentence, links = seen["sentences"][-1], seen["links"][-1]
    assert sentence.startswith("Which state does the head use? "), sentence
    if view is not None:
        assert f"depends on {view} " in sentence, sentence
    else:
        named = re.search(r"depends (?:most )?on (\S+?)[ ,:]", sentence)
        view = named.group(1) if named else "output@last"
    assert [t for t, _ in links][:3] == expected_use(report.parent, view), (links, sentence)
    assert {href for _, href in links} == {"#use"}
    assert_links_resolve(page, report, links)
    return sentence
