"""Helpers of the real-browser report tests: launch Debian's chromium through playwright,
record errors and requests, hover a plotly point and read its hover label."""

from __future__ import annotations

import html
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
