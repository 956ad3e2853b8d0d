"""The report's figures (``probe_rnn.report.figures``): user text is escaped for plotly (which
reads ``<b>``, ``<a>``, ``<br>`` in hover text) and goes into ``text``/``customdata`` only, never
into a hover template; the heatmap holds each cell's mean score per view and task."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from probe_rnn.report.figures import esc, probing_heatmap, projection_figure
from tests.unit.report.factory import HOSTILE, result_row, results_frame


def test_esc_escapes_markup_and_keeps_lines() -> None:
    assert esc("<b>a & b</b>") == "&lt;b&gt;a &amp; b&lt;/b&gt;"
    assert esc("one\r\ntwo\nthree") == "one<br>two<br>three"
    assert esc('"quotes" stay') == '"quotes" stay'
    for text in HOSTILE:  # the report's hostile strings: escaped, then readable again
        assert html.unescape(esc(text).replace("<br>", "\n")) == text.replace("\r\n", "\n")


def test_projection_keeps_user_text_out_of_the_hover_template() -> None:
    meta = pd.DataFrame({"text": HOSTILE, "label": ["<i>a</i>", "b"] * (len(HOSTILE) // 2)
                         + ["b"] * (len(HOSTILE) % 2),
                         "prediction": ["b"] * len(HOSTILE), "length": range(len(HOSTILE))})
    coords = np.random.default_rng(0).normal(size=(len(HOSTILE), 2))
    fig = projection_figure(coords, meta, "pca")
    points = fig.data[0]
    np.testing.assert_allclose(points.x, coords[:, 0])
    assert list(points.text) == [esc(t) for t in HOSTILE]
    assert "<i>" not in points.hovertemplate and "&lt;i&gt;" in points.customdata[0][0]
    assert all("<i>" not in str(t.name) for t in fig.data)  # legend names escaped too


def test_heatmap_cells_are_the_mean_per_view_and_task() -> None:
    rows = [result_row("output@last", "accuracy", 0.8), result_row("output@last", "accuracy", 0.9),
            result_row("h_n/L0/fwd", "accuracy", 0.6),
            result_row("h_n/L0/fwd", "bits", 0.3),
            result_row("output@last", "r2", 0.4, task="length", task_kind="regression")]
    fig = probing_heatmap(results_frame(rows), "logistic")
    score, bits = fig.data
    assert list(score.y) == ["output@last", "h_n/L0/fwd"] and list(score.x) == ["label", "length"]
    np.testing.assert_allclose(np.asarray(score.z, dtype=float),
                               [[0.85, 0.4], [0.6, np.nan]])
    np.testing.assert_allclose(np.asarray(bits.z, dtype=float), [[np.nan, np.nan], [0.3, np.nan]])
    assert probing_heatmap(results_frame([]), None) is None


def test_report_figures_are_plotly_white_whatever_the_users_default() -> None:
    """The figures take ``plotly_white`` as plotly's default while a page is built (no
    template copied into each), or name it when built outside; a user's own default (a
    notebook's) is theirs again after."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from probe_rnn.report.figure_style import style_figure, white_by_default

    white = pio.templates["plotly_white"].to_plotly_json()
    before = pio.templates.default
    pio.templates.default = "ggplot2"
    try:
        with white_by_default():
            inside = [go.Figure(), style_figure(go.Figure())]
        outside = style_figure(go.Figure())
        for fig in [*inside, outside]:
            assert fig.layout.template.to_plotly_json() == white
        assert pio.templates.default == "ggplot2"
        theirs = go.Figure().layout.template.to_plotly_json()
        assert theirs == pio.templates["ggplot2"].to_plotly_json() != white  # the premise
    finally:
        pio.templates.default = before
