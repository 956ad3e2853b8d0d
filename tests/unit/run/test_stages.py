"""Run stages: the probing stage hands probing the run's settings whole (the rows were sampled
before capture, so probing does not sample again), and the attribution stage finds the label
probes the probing stage measured, by view, from cells.csv and the journal."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probe_rnn.probing import LogisticProbe, ProbeSettings, probe_stores
from probe_rnn.run.settings import RunSettings
from probe_rnn.run.stages import measured_probes, probe_settings
from probe_rnn.run_folder import CELLS_CSV, JOURNAL_DIR
from tests.unit.probing.probing_support import ArrayStore, meta_for


def test_the_probing_stage_reads_every_shared_setting_from_the_run() -> None:
    run = RunSettings(views=["output@last"], tasks=["label", "length"], probes=["ridge"],
                      folds=4, seeds=2, seed=7, mdl=False, precision=0.05, jobs=2,
                      cell_timeout=30.0, max_rows=50)
    wanted = probe_settings(run)
    assert isinstance(wanted, ProbeSettings)
    shared = ({f.name for f in dataclasses.fields(RunSettings)}
              & {f.name for f in dataclasses.fields(ProbeSettings)}) - {"max_rows"}
    assert shared == {"views", "tasks", "probes", "folds", "seeds", "seed", "mdl", "precision",
                      "jobs", "cell_timeout"}
    for name in shared:
        assert getattr(wanted, name) == getattr(run, name), name
    assert wanted.max_rows is None  # the run sampled its table before capture
    assert (wanted.control, wanted.max_t) == (ProbeSettings().control, ProbeSettings().max_t)


def _store(seed: int, planted: bool) -> ArrayStore:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=90)
    signal = y + rng.normal(scale=0.3, size=90) if planted else rng.normal(size=90)
    store = ArrayStore(meta_for([f"s{i}" for i in range(90)], [str(v) for v in y]),
                       {"v": np.c_[signal, rng.normal(size=90)],
                        "w": rng.normal(size=(90, 2))})
    store.manifest = {"store": seed}  # type: ignore[attr-defined]
    return store


@pytest.fixture(scope="module")
def probed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ArrayStore]]:
    out = tmp_path_factory.mktemp("run")
    stores = {"trained": _store(0, planted=True), "random-init": _store(1, planted=False)}
    found = probe_stores(stores, ProbeSettings(views=["v", "w"], tasks=["label"], folds=3,
                                               mdl=False, control=False),
                         journal=out / JOURNAL_DIR)
    found.cells_table().to_csv(out / CELLS_CSV, index=False)
    return out, stores


def test_measured_probes_are_the_trained_label_probes_by_view(probed_run) -> None:
    out, stores = probed_run
    probes = measured_probes(out, "logistic")
    assert sorted(probes) == ["v", "w"]
    assert all(isinstance(p, LogisticProbe) for p in probes.values())
    # the probe of the planted view reads the label from the trained store's own states (the
    # random-init cell of "v", fitted on noise, would score near 0.5)
    y = stores["trained"].meta["label"].to_numpy()
    accuracy = float((probes["v"].predict(stores["trained"].sentence_masked("v")[0]) == y).mean())
    assert accuracy > 0.9
    assert measured_probes(out, "ridge") == {}  # no cell of that probe


def test_measured_probes_leave_out_failed_cells_and_old_folders(probed_run, tmp_path) -> None:
    out, _ = probed_run
    cells = pd.read_csv(out / CELLS_CSV)
    elsewhere = tmp_path / "run"
    (elsewhere).mkdir()
    (elsewhere / JOURNAL_DIR).symlink_to(out / JOURNAL_DIR)
    cells.loc[cells["view"] == "w", "status"] = "failed"
    cells.to_csv(elsewhere / CELLS_CSV, index=False)
    assert sorted(measured_probes(elsewhere, "logistic")) == ["v"]
    cells.drop(columns="key").to_csv(elsewhere / CELLS_CSV, index=False)
    assert measured_probes(elsewhere, "logistic") == {}  # cells from before probes were kept
    (elsewhere / CELLS_CSV).unlink()
    assert measured_probes(elsewhere, "logistic") == {}


def _tiny_bundle(rnn: str, layers: int, bidirectional: bool, df: pd.DataFrame):
    import torch

    from probe_rnn.data import Tokenizer
    from probe_rnn.models import ModelBundle, ModelConfig, ProbeRnnAdapter, RNNClassifier

    tokenizer = Tokenizer("char").fit(df["text"])
    config = ModelConfig(vocab_size=len(tokenizer), n_labels=2, rnn=rnn, layers=layers,
                         bidirectional=bidirectional, embedding_dim=4, hidden=3)
    torch.manual_seed(0)
    return ModelBundle(model=RNNClassifier(config), tokenizer=tokenizer,
                       labels=sorted(df["label"].unique()), config=config, meta={},
                       adapter=ProbeRnnAdapter(tokenizer))


VIEWS_TABLE = pd.DataFrame({"text": ["ab", "ba", "abc", "cab", "bca", "ca", "cc", "a"] * 6,
                            "label": ["p", "q", "p", "q", "q", "p", "q", "p"] * 6})


@pytest.mark.parametrize(("rnn", "layers", "bidirectional"),
                         [("lstm", 2, True), ("gru", 1, False), ("rnn", 2, False)])
def test_a_default_run_captures_the_sentence_views_a_full_capture_has(
        tmp_path: Path, rnn: str, layers: int, bidirectional: bool) -> None:
    """The default run's store holds every sentence view of the module and no per-token one
    (the store a full capture writes is the reference for which is which); a per-token task
    or an explicit list keeps today's behaviour."""
    from probe_rnn.capture import capture_states
    from probe_rnn.run.stages import views_to_capture

    bundle = _tiny_bundle(rnn, layers, bidirectional, VIEWS_TABLE)
    full = capture_states(bundle, VIEWS_TABLE, tmp_path / "full")
    sentence = [v for v in full.views if full.kind(v) == "sentence"]
    assert len(sentence) < len(full.views)  # the module has per-token views to leave out
    assert views_to_capture(bundle, RunSettings()) == sentence
    assert views_to_capture(bundle, RunSettings(tasks=["label", "token-back-1"])) is None
    assert views_to_capture(bundle, RunSettings(views=["hidden/L0/fwd"])) == ["hidden/L0/fwd"]


def test_a_default_run_stores_no_per_token_view_and_probes_as_before(tmp_path: Path) -> None:
    from probe_rnn.run.pipeline import probe

    bundle = _tiny_bundle("lstm", 2, True, VIEWS_TABLE)
    shared = dict(tasks=["label"], folds=2, umap=False, attribution_rows=0,
                  random_baseline=False, report=False, keep_duplicates=True, mdl=False)
    default = probe(bundle, VIEWS_TABLE, tmp_path / "default", RunSettings(**shared))
    everything = probe(bundle, VIEWS_TABLE, tmp_path / "all", RunSettings(
        tasks=["label", "token-back-1"], **{k: v for k, v in shared.items() if k != "tasks"}))
    stored = sorted(p.name for p in (tmp_path / "default" / "states" / "views").iterdir())
    assert stored and not any(name.startswith(("hidden", "cell", "output.")) for name in stored)
    assert (tmp_path / "all" / "states" / "views" / "hidden.L1.fwd.npy").is_file()
    full_size = sum(p.stat().st_size for p in (tmp_path / "all" / "states").rglob("*"))
    size = sum(p.stat().st_size for p in (tmp_path / "default" / "states").rglob("*"))
    assert size < full_size
    keys = ["view", "t", "metric"]
    mine = default.results.query("task == 'label'")
    theirs = everything.results.query("task == 'label' and view in @mine.view")
    assert len(mine) == len(theirs) > 0
    pd.testing.assert_frame_equal(
        mine.sort_values(keys).reset_index(drop=True),
        theirs.sort_values(keys).reset_index(drop=True))


def test_the_capture_stage_names_each_stores_kernel_check() -> None:
    from types import SimpleNamespace

    from probe_rnn.run.stages import kernel_check_note

    def store(error: float | None) -> SimpleNamespace:
        check = None if error is None else {"max_abs_error": error, "outputs": {"output": error},
                                            "rows": 8}
        return SimpleNamespace(manifest=SimpleNamespace(kernel_check=check))

    assert kernel_check_note({"trained": store(2.5e-7)}) == (
        "kernel check: largest |difference| from the fused kernel 2.5e-07 (output over 8 rows)")
    assert kernel_check_note({"trained": store(2.5e-7), "random-init": store(0.0)}) == (
        "kernel check (largest |difference| from the fused kernel): trained 2.5e-07, "
        "random-init 0")
    assert kernel_check_note({"trained": store(None), "random-init": store(None)}).startswith(
        "kernel check: no fused-kernel check recorded")


def test_a_run_captures_the_sentence_views_of_every_recurrent_module() -> None:
    from probe_rnn.run.stages import views_to_capture
    from tests.unit.capture.site_models import Stacked, site_bundle

    views = views_to_capture(site_bundle(Stacked(), pair=False), RunSettings(tasks=["label"]))
    assert "h_n/L0/bwd" in views  # only rnn2, a bidirectional GRU, has it
    assert "c_n/L0/fwd" in views  # only rnn1, an LSTM, has it
    assert len(views) == len(set(views))
