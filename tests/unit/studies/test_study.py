"""ReadoutStudy: saved and loaded back whole; a folder without a study is refused."""

from __future__ import annotations

import pandas as pd
import pytest

from probe_rnn.studies import ReadoutStudy, study_answer
from tests.unit.studies.study_support import TIED, hand_study


def test_saved_study_loads_back_and_renders_the_same_tables(tmp_path) -> None:
    study = hand_study(TIED)
    study.save(tmp_path)
    back = ReadoutStudy.load(tmp_path)
    pd.testing.assert_frame_equal(back.summary, study.summary, check_dtype=False)
    pd.testing.assert_frame_equal(back.pairs, study.pairs, check_dtype=False)
    assert study_answer(back) == study_answer(study)
    with pytest.raises(Exception, match="complete readout study"):
        ReadoutStudy.load(tmp_path / "missing")
