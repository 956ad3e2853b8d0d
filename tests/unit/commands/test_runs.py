"""The compare-readouts command's options: comma lists become Python lists, and every option
error is raised before any training (--readouts checked for each objective named, --loss only
with the siamese objective)."""

from __future__ import annotations

import pytest

from probe_rnn.commands.runs import _check_study_options, _names
from probe_rnn.errors import ConfigError
from probe_rnn.studies import OBJECTIVES


def test_comma_lists_drop_blanks_and_keep_repeats() -> None:
    assert _names(None) is None
    assert _names("last, hidden,,last ") == ["last", "hidden", "last"]
    assert _names(" , ") == []


def test_good_options_become_lists() -> None:
    assert _check_study_options("classify", None, None) == (["classify"], None, None)
    assert _check_study_options("classify,siamese", "last,hidden", "mse") == (
        ["classify", "siamese"], ["last", "hidden"], ["mse"])
    names, readouts, losses = _check_study_options("all", None, None)
    assert names == list(OBJECTIVES) and (readouts, losses) == (None, None)


@pytest.mark.parametrize(("objective", "readouts", "loss", "needle"), [
    ("classify,nope", None, None, "unknown objective 'nope'"),
    ("classify", "last,zero", None, "unknown readout 'zero' for objective classify"),
    ("autoencode,classify", "zero", None, "unknown readout 'zero' for objective classify"),
    ("classify", None, "mse", "--loss applies to the siamese objective only"),
    ("siamese", None, "hinge", "unknown loss 'hinge' for objective siamese"),
])
def test_an_option_error_is_raised_before_any_training(objective: str, readouts: str | None,
                                                       loss: str | None, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _check_study_options(objective, readouts, loss)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_the_study_progress_shows_the_setting_and_the_overall_share() -> None:
    """A real Rich Progress: the overall line counts settings done plus the current one's
    share, and says which setting of how many is running."""
    import io

    from rich.console import Console
    from rich.progress import Progress

    from probe_rnn.commands.runs import study_progress

    with Progress(console=Console(file=io.StringIO()), transient=True) as bar:
        progress = study_progress(bar, ["classify", "autoencode", "siamese"])
        overall, runs = bar.tasks
        assert (overall.total, overall.completed) == (3, 0)
        progress("classify", 5, 10, "last seed 0")
        assert overall.completed == 0.5 and overall.description == "setting 1/3 (classify)"
        assert (runs.completed, runs.total) == (5, 10)
        assert runs.description == "classify: trained last seed 0"
        progress("siamese", 10, 10, "max seed 2")
        assert overall.completed == 3 and overall.description == "setting 3/3 (siamese)"
