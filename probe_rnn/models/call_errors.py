"""What a failed call of the user's model means, in words that lead to the fix.

PyTorch's own messages can mislead here: a model without an ``nn.Embedding`` that gets token
ids hears "convert model: model.to(torch.int64)"; a packed model that wants sorted rows hears
about ``enforce_sorted``. :func:`explain_call_error` recognises these failures and says what
happened and what to do; :func:`hint_helps` says whether the generic hint (``layout=``,
``adapter=``, ``vocab=``) can fix a failure at all, so that it follows only those.
"""

from __future__ import annotations

import re

from torch import nn

from probe_rnn.errors import Mention, Part
from probe_rnn.models.recurrent import first_recurrent

_DTYPE = re.compile(r"dtype \(torch\.int64\) does not match|expected scalar type (Float|Double|"
                    r"Half|BFloat16) but found Long|found Long|Long and Float|"
                    r"not implemented for 'Long'", re.I)
_SORTED = re.compile(r"must be sorted in decreasing order", re.I)
_DEVICE = re.compile(r"on the same device|CUDA|cuda|device-side|out of memory", re.I)
_SHAPE = re.compile(r"size|shape|dimension|dim\b|mismatch|expected|must (be|have|match)|"
                    r"out of range|positional argument|argument", re.I)


def explain_call_error(model: nn.Module, exc: BaseException) -> tuple[Part, ...] | None:
    """The failure in words with its fix (message parts), or None when it is none of the
    known kinds."""
    text = " ".join(str(exc).split())
    if _DTYPE.search(text):
        found = first_recurrent(model)
        has_embedding = any(isinstance(m, nn.Embedding) for m in model.modules())
        what = (f"its {type(found[1]).__name__} {found[0]!r} reads float vectors of size "
                f"{found[1].input_size}" if found else "it reads float inputs")
        if not has_embedding:
            return (f"{what}, but the model has no nn.Embedding to turn token ids into them "
                    "(one-hot or float inputs) and probe-rnn passes token ids: write an adapter "
                    "plugin that builds the model's own inputs (see probes/README.md)",)
        return (f"{what}, but got integer token ids ({type(exc).__name__}: {text[:160]}): "
                "check that forward passes the ids through its nn.Embedding first",)
    if _SORTED.search(text):
        return ("the model packs its batch with pack_padded_sequence(..., enforce_sorted=True), "
                "which needs the rows sorted by decreasing length: leave ", Mention("adapter"),
                " out so that probe-rnn detects this and sorts the batch itself (or add "
                "enforce_sorted=False to that call in the model's forward)")
    if _DEVICE.search(text):
        return (f"the model failed on its device ({type(exc).__name__}: {text[:200]}): "
                "probe-rnn runs the model where its parameters are, so create every tensor in "
                "forward on the input's device (e.g. torch.zeros(..., device=x.device))",)
    return None


def hint_helps(exc: BaseException) -> bool:
    """Whether ``layout=``/``adapter=``/``vocab=`` can fix ``exc``: shape, size, index and
    argument failures (ids in the wrong layout, lengths passed or missing, a wrong
    vocabulary); not sort order, devices or dtypes."""
    text = f"{type(exc).__name__}: {exc}"
    if _DTYPE.search(text) or _SORTED.search(text) or _DEVICE.search(text):
        return False
    return isinstance(exc, IndexError | TypeError) or bool(_SHAPE.search(text))
