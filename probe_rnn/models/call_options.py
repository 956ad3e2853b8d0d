"""Which calls of a foreign model's ``forward`` to try, read from its signature.

:func:`candidates` lists the calls :func:`~probe_rnn.models.calling.detect_call` tries, in order,
as :class:`Candidate`\\ s (how many texts, whether the lengths are passed, a batch-size keyword,
an initial state, a teacher-forcing keyword):

* **one text** (:func:`call_options`): ``forward(ids)`` -> ids alone; ``forward(ids, lengths)``
  (any names, no default) -> ids and lengths; a second parameter with a default -> ids alone
  first, then, when its name speaks of a batch size (``batch_size``, ``bsz``), ``batch_size=``
  the number of rows, else the lengths; ``*args`` -> lengths, then ids alone. A second parameter
  named like a state (``hidden``, ``hx``, ``h0``, ``state``) is an initial state: a language
  model's ``forward(input, hidden)`` gets ``model.init_hidden(B)`` when the model has that
  method, else zeros for its recurrent module (and, when the parameter has a default, ids alone
  are tried first);
* **two texts** (``texts=2``, the CLI's ``--text a,b``: a pair model ``forward(a, b)``, an
  encoder-decoder ``forward(src, trg)``): two
  required parameters -> the two texts' ids; four -> each text's ids and lengths
  (``forward(a, a_lengths, b, b_lengths)``). A parameter named like a teacher-forcing ratio
  (with a default or without) gets 1.0 by keyword (the target at every step).
"""

from __future__ import annotations

import inspect
import re
from typing import NamedTuple

from torch import nn

from probe_rnn.errors import Mention, ModelCallError
from probe_rnn.models.adapters import forward_signature
from probe_rnn.models.arguments import INIT_METHOD
from probe_rnn.models.recurrent import module_kind

_BATCH_SIZE_NAME = re.compile(r"batch|bsz", re.IGNORECASE)
_STATE_NAME = re.compile(r"^(hidden|hid|hx|h0|h_0|h|state|states|init_state|initial_state|"
                         r"hidden_state|prev_state)$", re.IGNORECASE)
_TEACHER_NAME = re.compile(r"teacher", re.IGNORECASE)


class Candidate(NamedTuple):
    """One call to try: ``texts`` (1 or 2), ``lengths`` passed, ``batch_arg``,
    ``initial_state`` (``"init_hidden"``, ``"zeros"`` or None), ``teacher_forcing``."""

    texts: int
    lengths: bool
    batch_arg: str | None = None
    initial_state: str | None = None
    teacher_forcing: str | None = None


def _parameters(model: nn.Module) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None


def _positional(params: list[inspect.Parameter]) -> list[inspect.Parameter]:
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def takes_lengths(model: nn.Module) -> bool | None:
    """From ``forward``'s signature: False for one positional argument, True for two or more,
    None when it cannot tell (``*args``, no signature)."""
    params = _parameters(model)
    if params is None or any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    teacher = _teacher(params)
    positional = [p for p in _positional(params) if p.name != teacher]
    required = [p for p in positional if p.default is p.empty]
    if len(required) > 2 and len(required) != 4:
        raise ModelCallError(
            f"{forward_signature(model)} needs {len(required)} arguments; probe-rnn passes ids "
            "and, optionally, lengths, a batch size or an initial state (two texts: their ids, "
            "or their ids and lengths): pass ", Mention("collate", "FILE.py:fn"), ", a function "
            "from a list of texts to all of the forward's arguments (see the README's 'Your own "
            "model')")
    return len(positional) >= 2


def call_options(model: nn.Module) -> list[tuple[bool, str | None]]:
    """The one-text calls to try, in order, as ``(passes lengths, batch-size parameter)``
    (see the module docstring; initial states are in :func:`candidates`)."""
    passes = takes_lengths(model)
    if passes is None:
        return [(True, None), (False, None)]
    if not passes:
        return [(False, None)]
    second = _positional(_parameters(model) or [])[1]
    if second.default is second.empty:
        return [(True, None)]
    if _BATCH_SIZE_NAME.search(second.name):
        return [(False, None), (False, second.name)]
    return [(False, None), (True, None)]


def _teacher(params: list[inspect.Parameter]) -> str | None:
    return next((p.name for p in params if _TEACHER_NAME.search(p.name)), None)


def candidates(model: nn.Module, texts: int | None = None) -> list[Candidate]:
    """Every call to try, in order: one-text calls (``texts`` 1 or None), or two-text calls
    (``texts=2``: never guessed, since ``forward(ids, mask)`` would also take two id batches)."""
    params = _parameters(model) or []
    teacher = _teacher(params)  # given 1.0 by keyword: not one of the texts' arguments
    positional = [p for p in _positional(params) if p.name != teacher]
    required = [p for p in positional if p.default is p.empty]
    found: list[Candidate] = []
    if texts != 2:
        if len(required) != 4:
            second = positional[1] if len(positional) >= 2 else None
            stateful = callable(getattr(model, INIT_METHOD, None)) or any(
                module_kind(m) is not None for m in model.modules())
            if second is not None and _STATE_NAME.match(second.name) and stateful:
                state = INIT_METHOD if callable(getattr(model, INIT_METHOD, None)) else "zeros"
                if second.default is not second.empty:
                    found.append(Candidate(1, False))
                found.append(Candidate(1, False, initial_state=state))
            else:
                found += [Candidate(1, lengths, batch) for lengths, batch in call_options(model)]
    if texts == 2:
        varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
        if len(required) == 4 or varargs:
            found.append(Candidate(2, True, teacher_forcing=teacher))
        if len(positional) >= 2 and len(required) <= 2 or varargs:
            found.append(Candidate(2, False, teacher_forcing=teacher))
    return found
