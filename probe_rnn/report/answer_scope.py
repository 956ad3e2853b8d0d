"""Which site the opening answer speaks of when the model has several: :func:`answer_scope`.

A model with several recurrent sites (views named ``SITE:VIEW``) has an output and a hidden
state per site; the question is about the one whose state the rest of the model reads:

* a pair model or an encoder-decoder (two texts per row): the first site, the encoder that reads
  the first text (a pair score compares its two calls; a decoder starts from its final state);
* otherwise (stacked modules under one head): the last site the model ran, the one the head
  reads.

The answer then reads that site's rows with the prefix taken off, and its own output-vs-hidden
comparison, so its sentences are those of a one-site model, said of the site.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from probe_rnn.catalogue import try_parse
from probe_rnn.report.equivalence import Equivalence, equivalence_of


def sites_of(views: Any) -> list[str]:
    """The site names of view names, in their order (empty for a one-site model)."""
    return list(dict.fromkeys(s.site for v in views if (s := try_parse(str(v))) and s.site))


def sites_in(results: pd.DataFrame) -> list[str]:
    """The site names of the results' views, in their order (empty for a one-site model)."""
    return sites_of(results["view"].dropna().unique() if "view" in results else [])


def answer_site(results: pd.DataFrame, model_card: dict[str, Any] | None) -> str | None:
    """The site the answer speaks of (see the module docstring), or None (one site)."""
    sites = sites_in(results)
    if not sites:
        return None
    texts = int((model_card or {}).get("texts") or 1)
    return sites[0] if texts == 2 else sites[-1]


def _strip(frame: pd.DataFrame | None, site: str) -> pd.DataFrame | None:
    if frame is None or "view" not in frame:
        return frame
    prefix = f"{site}:"
    views = frame["view"].astype(str)
    part = frame[views.str.startswith(prefix)].copy()
    part["view"] = part["view"].astype(str).str.removeprefix(prefix)
    part.attrs.update(frame.attrs)
    return part


def answer_scope(results: pd.DataFrame, values: pd.DataFrame | None,
                 diagnosis: pd.DataFrame | None, equivalence: Equivalence | None,
                 model_card: dict[str, Any] | None
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None, Equivalence | None, str | None]:
    """``(results, values, equivalence, site)`` for the opening answer: unchanged for a
    one-site model; else the answer site's rows without prefix and its own comparison."""
    site = answer_site(results, model_card)
    if site is None:
        return results, values, equivalence, None
    own = None
    if diagnosis is not None and "module" in diagnosis:
        own = equivalence_of(diagnosis[diagnosis["module"].astype(str) == site])
    return _strip(results, site), _strip(values, site), own, site
