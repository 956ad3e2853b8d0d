"""The page's plumbing (``probe_rnn.report.page``): the CSP admits scripts by their sha256 (the
MDN example's hash as reference), figure JSON cannot close its ``<script>``, code spans escape
their text, and the packaged assets come with a CSP that admits exactly them."""

from __future__ import annotations

import json

import plotly.graph_objects as go

from probe_rnn.report.page import codespans, csp, figure_json, page_assets


def test_csp_admits_a_script_by_the_sha256_browsers_compute() -> None:
    policy = csp(["alert('Hello, world.');"])  # the example of MDN's CSP script-src page
    assert "script-src 'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng=';" in policy
    assert policy.startswith("default-src 'none';")  # nothing else loads, nothing is fetched
    assert "connect-src" not in policy and "'unsafe-inline'" not in policy.split("style-src")[0]


def test_figure_json_cannot_end_its_script_element() -> None:
    hostile = "</script><script>alert(1)</script> & <b>"
    fig = go.Figure(go.Scatter(x=[1], y=[2], text=[hostile], name=hostile))
    text = figure_json(fig)
    assert "<" not in text and ">" not in text and "&" not in text
    back = json.loads(text)  # JSON unicode escapes: the same figure once parsed
    assert back["data"][0]["text"] == [hostile] and back["data"][0]["name"] == hostile


def test_codespans_escape_then_mark_up_backticks() -> None:
    assert str(codespans("read `h_n/L1/fwd` <b>not bold</b>")) == \
        "read <code>h_n/L1/fwd</code> &lt;b&gt;not bold&lt;/b&gt;"
    assert str(codespans("no `closing")) == "no `closing"


def test_page_assets_csp_admits_the_runtime_and_page_script_only() -> None:
    assets = page_assets()
    assert assets["csp"] == csp([assets["plotly_js"], assets["app_js"]])
    assert assets["csp"].count("'sha256-") == 2
    assert "</script" not in assets["plotly_js"].lower()
