"""The report's look, shared by every figure: palette, escaping, the template and layout.

A page's figures are built inside :func:`white_by_default` and finished by
:func:`style_figure` (template, height, font, margins). Every string that comes from data is
escaped by :func:`esc` before it enters a figure (plotly.js renders ``<b>``, ``<br>``,
``<a>`` in hover text, legends and ticks).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager

import plotly.graph_objects as go
import plotly.io as pio

PALETTE = ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2",
           "#97bbf5", "#9c6b4e", "#9498a0"]
WHITE = "plotly_white"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def esc(value: object) -> str:
    """HTML-escape text for plotly (``<``, ``>``, ``&``); newlines become ``<br>``."""
    return html.escape(str(value), quote=False).replace("\r\n", "\n").replace("\n", "<br>")


@contextmanager
def white_by_default() -> Iterator[None]:
    """``plotly_white`` as plotly's default template while a page's figures are built (a
    user's own default is restored after). A new figure takes the default as it stands
    (about 1 ms); a template named in a layout is deep-copied and validated (about 20 ms a
    figure; setting the default costs one such copy, so it is set once per page)."""
    before = pio.templates.default
    if before == WHITE:
        yield
        return
    pio.templates.default = WHITE
    try:
        yield
    finally:
        pio.templates.default = before


def style_figure(fig: go.Figure, height: int = 420, **kwargs: object) -> go.Figure:
    """The report's look on ``fig``: ``plotly_white`` (named only when the figure was built
    outside :func:`white_by_default`), height, font, margins, and ``kwargs`` for its
    layout."""
    template = {} if pio.templates.default == WHITE else {"template": WHITE}
    fig.update_layout(
        **template, height=height, font={"family": _FONT, "size": 13},
        margin={"l": 60, "r": 20, "t": 50, "b": 60}, hoverlabel={"font": {"family": _FONT}},
        **kwargs,
    )
    return fig


def rgba(color: str, a: float) -> str:
    """``#4269d0`` with opacity ``a`` as ``rgba(66,105,208,a)`` (the bands under curves)."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{a})"
