"""build_report: required files, optional sections, self-containment, CSP, escaping, CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probe_rnn.errors import ReportError
from probe_rnn.report import build_report
from probe_rnn.report.figures import esc
from tests.unit.report.factory import HOSTILE, make_run, pipeline_run


class _Scan(HTMLParser):
    """Collect script blocks, tag names and attributes as the browser would parse them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict, str]] = []
        self.tags: list[tuple[str, dict]] = []
        self._in: dict | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in = dict(attrs)
            self.scripts.append((self._in, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None

    def handle_data(self, data):
        if self._in is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.text.append(data)


def _scan(path: Path) -> _Scan:
    scan = _Scan()
    scan.feed(path.read_text(encoding="utf-8"))
    return scan


def test_missing_run_json_is_one_line_error(tmp_path) -> None:
    (tmp_path / "results.csv").write_text("model,view,task,probe,metric,value\n")
    with pytest.raises(ReportError, match="run.json is missing") as err:
        build_report(tmp_path)
    assert "\n" not in str(err.value)


def test_missing_results_is_an_error(run_dir) -> None:
    (run_dir / "results.parquet").unlink()
    (run_dir / "results.csv").unlink()
    with pytest.raises(ReportError, match="no results"):
        build_report(run_dir)


def test_missing_folder_is_an_error(tmp_path) -> None:
    with pytest.raises(ReportError, match="does not exist"):
        build_report(tmp_path / "nope")


def test_optional_parts_leave_a_note(run_dir) -> None:
    shutil.rmtree(run_dir / "attribution")
    shutil.rmtree(run_dir / "states")
    report = build_report(run_dir, umap=False)
    assert "fig-steps" not in report.figures
    assert not any(f.startswith("fig-proj") for f in report.figures)
    text = report.path.read_text()
    assert "no attribution/ folder" in text and "no projections" in text
    assert report.notes["attribution"] and report.notes["projections"]


def test_the_report_says_which_rows_and_what_the_random_baseline_is(run_dir) -> None:
    text = build_report(run_dir, umap=False).path.read_text()
    # factory runs record no probed rows: the report must not imply they were held out
    assert "does not record which rows were probed" in text
    assert "every weight re-initialised, the embedding included" in text
    run = json.loads((run_dir / "run.json").read_text())
    run["probed_rows"] = {"description": "40 held-out (dev + test) rows probed (dev 20, "
                                         "test 20; split from the table's split column)"}
    (run_dir / "run.json").write_text(json.dumps(run))
    text = build_report(run_dir, umap=False).path.read_text()
    assert "Rows: 40 held-out (dev + test) rows probed" in text


def test_self_contained_with_csp_hashes(run_dir) -> None:
    report = build_report(run_dir, umap=False)
    html = report.path.read_text(encoding="utf-8")
    scan = _scan(report.path)
    meta = [a for t, a in scan.tags if t == "meta" and a.get("http-equiv") ==
            "Content-Security-Policy"]
    assert len(meta) == 1
    csp = meta[0]["content"]
    assert "default-src 'none'" in csp and "img-src data:" in csp and "unsafe-inline" not in \
        csp.split("script-src")[1].split(";")[0]
    code = [text for attrs, text in scan.scripts if "type" not in attrs]
    assert len(code) == 2  # plotly.js once, then the page's own script
    for text in code:
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    from plotly.offline import get_plotlyjs

    assert html.count(get_plotlyjs()[:60]) == 1  # the runtime is embedded exactly once
    links = [a.get(k, "") for _, a in scan.tags for k in ("src", "href")]
    assert not [u for u in links if re.match(r"(https?:)?//", u)]
    figures = [a for a, _ in scan.scripts if a.get("type") == "application/json"]
    assert len(figures) == len(report.figures) >= 8
    assert report.size_bytes < 10 * 1024 * 1024


def test_results_link_is_relative_to_the_html(run_dir, tmp_path) -> None:
    out = tmp_path / "elsewhere" / "r.html"
    report = build_report(run_dir, umap=False, out=out)
    hrefs = [a["href"] for t, a in _scan(report.path).tags if t == "a" and "href" in a]
    link = next(h for h in hrefs if h.endswith("results.csv"))
    assert (out.parent / link).resolve() == (run_dir / "results.csv").resolve()


def test_esc_escapes_markup_for_plotly() -> None:
    assert esc("<b>x</b> & y\nz") == "&lt;b&gt;x&lt;/b&gt; &amp; y<br>z"
    assert esc("%{x} $x$ \"'") == "%{x} $x$ \"'"


def test_hostile_text_is_escaped_everywhere(tmp_path) -> None:
    run = make_run(tmp_path / "hostile", texts=HOSTILE * 5)
    report = build_report(run, umap=False)
    scan = _scan(report.path)
    # no element, attribute or script came from the data
    assert not [a for t, a in scan.tags if t == "img"]
    assert not any("onerror" in a for _, a in scan.tags)
    assert all(a.get("type") in (None, "application/json") for a, _ in scan.scripts)
    assert not any("__pwned" in text for a, text in scan.scripts if "type" not in a)
    page_text = "".join(scan.text)
    assert "<script>window.__pwned=1</script>" in page_text  # shown literally (token spans)
    for attrs, text in scan.scripts:
        if attrs.get("type") != "application/json":
            continue
        fig = json.loads(text)
        for trace in fig["data"]:
            assert "__pwned" not in trace.get("hovertemplate", "")
            for t in trace.get("text") or []:
                assert "<script" not in str(t) and "<img" not in str(t)
    hover = json.dumps([json.loads(t) for a, t in scan.scripts
                        if a.get("type") == "application/json"])
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in hover


def test_token_heatmap_shares_one_colour_scale(run_dir) -> None:
    report = build_report(run_dir, umap=False)
    spans = [a for t, a in _scan(report.path).tags
             if t == "span" and "tok" in a.get("class", "")]
    alphas = [float(re.search(r"rgba\([\d,]+,([\d.]+)\)", a["style"])[1]) for a in spans]
    assert max(alphas) == pytest.approx(0.85)  # only the largest |value| shown reaches it
    assert sum(a == pytest.approx(0.85) for a in alphas) == 1
    assert all(re.fullmatch(r".*: [+-]\d\.\d{4}", a["title"], re.S) for a in spans)


def _sentences(path: Path) -> list[str]:
    """The text of each token-heatmap sentence, as a reader (or a copy) gets it."""
    text = path.read_text(encoding="utf-8")
    found = re.findall(r'<span class="sentence">(.*?)</span>\s*</div>', text, re.S)
    return [re.sub(r"<[^>]+>", "", s) for s in found]


@pytest.mark.parametrize("tokenizer", ["word", None])
def test_word_tokens_are_separated_by_spaces(run_dir, tokenizer) -> None:
    tokens = pd.read_parquet(run_dir / "attribution" / "tokens.parquet")
    tokens["token"] = tokens["token"] + "w"  # two-letter "words"
    tokens.to_parquet(run_dir / "attribution" / "tokens.parquet", index=False)
    run = json.loads((run_dir / "run.json").read_text())
    run["model"]["tokenizer"] = {"kind": "word", "vocab_size": 9} if tokenizer else None
    (run_dir / "run.json").write_text(json.dumps(run))
    sentences = _sentences(build_report(run_dir, umap=False).path)
    first = tokens[tokens["row"] == tokens["row"].iloc[0]].sort_values("position")["token"]
    assert sentences[0] == " ".join(first)


def test_char_tokens_stay_together(run_dir) -> None:
    tokens = pd.read_parquet(run_dir / "attribution" / "tokens.parquet")
    first = tokens[tokens["row"] == tokens["row"].iloc[0]].sort_values("position")["token"]
    assert _sentences(build_report(run_dir, umap=False).path)[0] == "".join(first)


def test_cli_report_prints_path(run_dir, capsys) -> None:
    from probe_rnn.cli import main

    try:
        main(["report", str(run_dir), "--no-umap"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    out = capsys.readouterr().out
    assert f"report: {run_dir / 'index.html'}" in out
    assert (run_dir / "index.html").is_file()


def test_cli_report_missing_folder_exits_2(tmp_path, capsys) -> None:
    from probe_rnn.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path / "missing"), "--no-umap"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_size_budget_with_long_sentences(tmp_path) -> None:
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abcdefgh <>&\"'"), size=int(rng.integers(60, 400))))
             for _ in range(1600)]
    run = make_run(tmp_path / "big", texts=texts)
    report = build_report(run, umap=False)
    assert report.size_bytes < 10 * 1024 * 1024
    scan = _scan(report.path)
    figs = [json.loads(t) for a, t in scan.scripts if a.get("type") == "application/json"]
    proj = [f for f in figs if f["data"][0].get("name") == "sentences"]
    assert len(proj) == 4
    assert all(len(f["data"][0]["text"]) == 1500 for f in proj)  # subsampled to the cap
    assert max(len(t) for f in proj for t in f["data"][0]["text"]) < 300 * 6  # clipped


def test_notebook_repr_escapes(tmp_path) -> None:
    run = make_run(tmp_path / "nb", texts=HOSTILE * 5)
    report = build_report(run, umap=False)
    shown = report._repr_html_()
    assert str(report.path) in shown and "<script" not in shown
    assert shown.count("<li>") == len(report.findings) > 0
    # the answer and the findings as a notebook shows them: view names as code, no backticks,
    # under a link that opens the page
    assert report.answer is not None and "`" in report.answer.text
    assert "`" not in shown and "<code>output@last</code>" in shown
    assert f'href="{report.path.resolve().as_uri()}"' in shown


def test_a_run_without_attribution_says_it_was_skipped(tmp_path) -> None:
    from probe_rnn.data import load_dataset

    df = load_dataset("names").sample(60, random_state=2).reset_index(drop=True)
    run = pipeline_run(tmp_path / "run", df, random_baseline=False, attribution_rows=3)
    assert (run / "attribution" / "manifest.json").is_file()
    pipeline_run(run, df, random_baseline=False, attribution_rows=0)  # the same folder again
    report = build_report(run, umap=False)
    assert report.notes["attribution"] == ("Attribution was skipped for this run "
                                           "(attribution_rows=0).")
    text = report.path.read_text(encoding="utf-8")
    assert "did not finish" not in text
    # the model card shows the capture's kernel check as the store's manifest records it
    from probe_rnn.capture.store import StateStore

    check = StateStore(run / "states").manifest.kernel_check
    model = text[text.index("<h3>Model</h3>"):text.index("<h3>Data</h3>")]
    assert check is not None and "kernel check (trained)" in model
    assert (f"largest |difference| from the fused kernel {check['max_abs_error']:.3g} "
            f"(output, h_n, c_n over {check['rows']} rows)") in model
    assert "kernel check (random-init)" not in model  # no random baseline in this run


def test_cards_have_no_blank_rows_and_say_which_rows_were_probed(run_dir) -> None:
    from probe_rnn.report.tables import card_table

    card = card_table({"config": None, "meta": {}, "labels": [], "source": "m.pt"})
    assert card.rows == [["source", "m.pt"]]
    run = json.loads((run_dir / "run.json").read_text())
    run["model"]["config"] = None  # a foreign model
    run["probed_rows"] = {"description": "12 held-out (dev + test) rows probed"}
    (run_dir / "run.json").write_text(json.dumps(run))
    text = build_report(run_dir, umap=False).path.read_text(encoding="utf-8")
    model = text[text.index("<h3>Model</h3>"):text.index("<h3>Data</h3>")]
    assert "<td></td>" not in model and ">config<" not in model
    data = text[text.index("<h3>Data</h3>"):text.index('id="diagnosis"')]
    assert "12 held-out (dev + test) rows probed" in data


@pytest.mark.parametrize("bidi", [True, False])
def test_forward_half_is_said_only_of_a_bidirectional_model(tmp_path, bidi) -> None:
    run = make_run(tmp_path / "run", bidi=bidi, attribution=False)
    report = build_report(run, umap=False)
    text = report.path.read_text(encoding="utf-8")
    section = text[text.index('id="diagnosis"'):text.index('id="probing"')]
    assert ("output@last (forward half)" in section) is bidi
    findings = " ".join(f.text for f in report.findings)
    assert ("forward half" in findings) is bidi


def test_the_equivalence_section_has_one_block_per_site(run_dir) -> None:
    import pandas as pd

    one = pd.read_csv(run_dir / "diagnosis.csv")
    single = build_report(run_dir, umap=False).path.read_text()
    assert "Site <code>" not in single
    pd.concat([one.assign(module="encoder"), one.assign(module="encoder#2")]).to_csv(
        run_dir / "diagnosis.csv", index=False)
    text = build_report(run_dir, umap=False).path.read_text()
    section = text[text.index('<section id="diagnosis">'):]
    assert section.index("Site <code>encoder</code>") < section.index(
        "Site <code>encoder#2</code>")
    assert "encoder#2:h_n/L1/fwd" in section and "encoder:h_n/L1/bwd" in section


def _without_built(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines()
            if "report built" not in line]


def test_interventions_give_a_section_a_finding_and_the_answers_use_sentence(run_dir) -> None:
    from probe_rnn.report.use_findings import LEAD
    from tests.unit.report.use_factory import write_use_table

    report = build_report(write_use_table(run_dir), umap=False)
    assert {"fig-use", "fig-use-steps"} <= set(report.figures)
    assert report.answer.sentence_texts[-1].startswith(LEAD)
    assert "`output@last` (by both erasure and patching)" in report.answer.text
    assert [f.kind for f in report.findings[:2]] == ["recommendation", "use"]
    page = report.path.read_text(encoding="utf-8")
    assert '<section id="use">' in page and '<a href="#use">Decodable vs used</a>' in page
    assert 'id="use-table"' in page and page.count("<td>erasure-control</td>") == 3


def test_a_folder_without_interventions_renders_as_before(run_dir) -> None:
    from tests.unit.report.use_factory import write_use_table

    before = _without_built(build_report(run_dir, umap=False).path)
    assert not any('id="use"' in line for line in before)
    build_report(write_use_table(run_dir), umap=False)
    (run_dir / "interventions.parquet").unlink()
    assert _without_built(build_report(run_dir, umap=False).path) == before


def test_a_damaged_interventions_table_leaves_a_note(run_dir) -> None:
    (run_dir / "interventions.parquet").write_text("damaged")
    report = build_report(run_dir, umap=False)
    assert "fig-use" not in report.figures
    page = report.path.read_text(encoding="utf-8")
    assert '<section id="use">' in page and "interventions.parquet cannot be read" in page
