"""The HTML page machinery shared by every report page.

Holds the jinja environment (templates in ``probe_rnn/report/templates``), the static CSS and
script files, the embedded plotly.js runtime, the Content-Security-Policy that admits only the
page's own scripts, and the figure-to-JSON step that is safe inside a ``<script>`` element.
Used by :mod:`probe_rnn.report.build`, :mod:`probe_rnn.report.readouts` and
:mod:`probe_rnn.report.answer_page`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import jinja2
import markupsafe
import plotly.graph_objects as go

from probe_rnn.errors import ReportError
from probe_rnn.hashing import text_sha256_base64


def codespans(text: str) -> markupsafe.Markup:
    """Escape ``text`` and turn its `backticked` spans into ``<code>`` elements."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


@cache
def environment() -> jinja2.Environment:
    """The jinja environment over the report templates (autoescaped, strict undefined)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("probe_rnn.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False,
    )
    env.filters["codespans"] = codespans
    return env


def static_text(name: str) -> str:
    """The text of the packaged static file ``name`` (``report.css``, ``report.js``)."""
    return resources.files("probe_rnn.report").joinpath("static", name).read_text("utf-8")


@cache
def plotly_js() -> str:
    """The installed plotly.js runtime, checked to be safe inside a ``<script>`` element."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():
        raise ReportError("the installed plotly.js contains '</script': reinstall plotly")
    return js


def csp(scripts: list[str]) -> str:
    """A Content-Security-Policy admitting exactly ``scripts`` (by sha256 hash) and no fetches."""
    hashes = " ".join(
        f"'sha256-{text_sha256_base64(s)}'"
        for s in scripts
    )
    return (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
            "img-src data: blob:; font-src data:; base-uri 'none'; form-action 'none'")


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON with ``&``, ``<``, ``>`` escaped so it can sit inside ``<script>``."""
    text = fig.to_json(validate=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page_assets() -> dict[str, str]:
    """The report's CSS, page script and plotly runtime, with a CSP admitting only them."""
    try:
        css, app_js = static_text("report.css"), static_text("report.js")
    except OSError as exc:
        raise ReportError(f"the report's static files are missing ({exc}); reinstall probe-rnn"
                          ) from exc
    runtime = plotly_js()
    return {"css": css, "app_js": app_js, "plotly_js": runtime,
            "csp": csp([runtime, app_js])}
