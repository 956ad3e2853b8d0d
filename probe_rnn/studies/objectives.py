"""The question's three settings as study objectives, and the names a study accepts.

An :class:`Objective` says what one setting trains and how its runs are scored
(:data:`OBJECTIVES`: ``classify``, ``autoencode``, ``siamese``); :func:`parse_readouts` and
:func:`parse_losses` check the readouts and losses a study is asked for against it, raising
:class:`~probe_rnn.errors.ParameterError` (``readouts``, ``losses``) with the fix as its hint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from probe_rnn.catalogue import READOUTS
from probe_rnn.errors import ParameterError
from probe_rnn.validation import Options, check_param, shown

#: Default training budget per run, measured so 5 readouts × 3 seeds on ``names`` (2-layer
#: BiLSTM, hidden 64) finish in under 5 minutes on the 2-core reference machine.
DEFAULT_EPOCHS = 8


@dataclass(frozen=True)
class Objective:
    """What one setting of the question trains, and how its runs are scored."""

    name: str
    setting: str  # the question's wording
    metric: str  # runs column compared across readouts (higher is better)
    dev_metric: str  # runs column of the dev score early stopping used
    metric_label: str
    readouts: tuple[str, ...]  # valid readouts
    default_readouts: tuple[str, ...]
    losses: tuple[str, ...]  # valid losses (the first alone is the default but for siamese)
    epochs: int  # default budget
    percent: bool  # the metric is shown as a percentage (else as a 0-1 number)
    short: str  # the metric in a table header
    extras: tuple[str, ...] = ()  # further runs columns shown on the page


#: The question's three settings.
OBJECTIVES: dict[str, Objective] = {
    "classify": Objective(
        "classify", "text classifier (the head reads the readout)", "test_accuracy",
        "dev_accuracy", "test accuracy", READOUTS, READOUTS, ("cross-entropy",), DEFAULT_EPOCHS,
        True, "test acc"),
    "autoencode": Objective(
        "autoencode", "encoder–decoder (the decoder starts from the readout)",
        "test_token_accuracy", "dev_token_accuracy",
        "held-out token reconstruction accuracy", (*READOUTS, "zero"),
        ("hidden", "last", "mean", "max", "naive-last", "zero"), ("cross-entropy",), 15, True,
        "test token acc", ("test_perplexity",)),
    "siamese": Objective(
        "siamese", "siamese similarity (pairs scored by the cosine of their readouts)",
        "test_auc", "dev_auc", "held-out pair ROC AUC", READOUTS, READOUTS,
        ("mse", "contrastive"), DEFAULT_EPOCHS, False, "test pair AUC",
        ("test_pair_accuracy", "test_auc_distance")),
}


#: One-line meaning of each readout, used in tables and the report.
READOUT_LABELS = {
    "last": "output at each row's own last valid step",
    "hidden": "h_n of the top layer (directions concatenated)",
    "mean": "mean of output over valid steps",
    "max": "max of output over valid steps",
    "naive-last": "output[:, -1] of the padded batch (reads padding for short rows)",
    "zero": "no readout: the decoder starts from zeros (baseline)",
}


def names_of(parameter: str, what: str, value: Sequence[str], valid: Sequence[str],
             context: str = "", note: str = "") -> tuple[str, ...]:
    """``value`` as names of ``what`` (blank ones dropped), each one of ``valid``, none twice;
    else a :class:`ParameterError` for ``parameter`` whose hint names the fix. A
    string (``"last,hidden"``) is refused with the list to pass instead (comma strings are the
    command line's, which splits them); ``context`` (`` for objective classify``) follows an
    unknown name; ``note`` follows the valid names."""
    def refused(hint: str) -> ParameterError:
        return ParameterError(parameter, f"a list of names from {', '.join(valid)}{note}",
                              shown(value), hint)

    if isinstance(value, str):
        raise refused(f"pass {[v.strip() for v in value.split(',') if v.strip()]!r}")
    names = [n for n in value if n]
    if not names:
        raise refused(f"name at least one {what}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise refused(f"unknown {what} {', '.join(map(repr, unknown))}{context}")
    if len(set(names)) != len(names):
        raise refused(f"name each {what} once")
    return tuple(names)


def objective_named(name: str) -> Objective:
    """The objective called ``name``; another value raises :class:`ParameterError`."""
    check_param("objective", name, Options(OBJECTIVES))
    return OBJECTIVES[name]


def parse_readouts(value: Sequence[str], objective: str = "classify") -> tuple[str, ...]:
    """Readout names from a list (``["last", "hidden"]``); unknown or repeated names raise
    (``zero`` exists only for the ``autoencode`` objective), and so does a string."""
    obj = objective_named(objective)
    return names_of("readouts", "readout", value, obj.readouts, f" for objective {obj.name}")


def parse_losses(value: Sequence[str] | None, objective: str = "classify"
                 ) -> tuple[str, ...]:
    """Losses of a study: ``mse``/``contrastive`` for siamese (both by default); the others
    train with cross-entropy only, and naming another loss for them raises."""
    obj = objective_named(objective)
    if value is None:
        return obj.losses
    return names_of("losses", "loss", value, obj.losses, f" for objective {obj.name}")
