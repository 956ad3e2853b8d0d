"""The run's interventions stage: on by default, writes interventions.parquet on the probed
rows and records itself; off, it is recorded as skipped and writes nothing."""

from __future__ import annotations

from probe_rnn.interventions import COLUMNS, read_interventions
from probe_rnn.run.pipeline import probe
from probe_rnn.run.settings import RunSettings
from probe_rnn.run_folder import read_run

QUICK = dict(views=["output@last", "h_n/L0/fwd", "h_n/L0/bwd", "h_n/L0"], tasks=["label"],
             folds=2, umap=False, attribution_rows=0, random_baseline=False, report=False,
             mdl=False)


def test_the_stage_writes_the_table_on_the_probed_rows(tmp_path, tiny_bundle):
    bundle, df = tiny_bundle
    result = probe(bundle, df, tmp_path / "run", RunSettings(**QUICK))
    table = read_interventions(tmp_path / "run")
    assert table is not None and list(table.columns) == COLUMNS
    held = int(df["split"].isin(["dev", "test"]).sum())
    erased = table[(table["intervention"] == "erasure") & (table["measure"] == "agreement")]
    assert (erased["n"] == held).all()
    stage = read_run(tmp_path / "run").stages["interventions"]
    assert stage.status == "done" and f"{held} rows" in stage.detail
    assert list(result.stages).index("interventions") < list(result.stages).index("attribution")
    again = probe(bundle, df, tmp_path / "run", RunSettings(**QUICK))
    assert again.stages["interventions"].status == "reused"


def test_the_stage_can_be_switched_off(tmp_path, tiny_bundle):
    bundle, df = tiny_bundle
    probe(bundle, df, tmp_path / "run", RunSettings(**QUICK, interventions=False))
    assert read_interventions(tmp_path / "run") is None
    assert read_run(tmp_path / "run").stages["interventions"].status == "skipped"


def test_the_probe_command_switches_the_stage_off(tmp_path, tiny_bundle):
    from typer.testing import CliRunner

    from probe_rnn.cli import app
    from probe_rnn.models import save_checkpoint

    bundle, df = tiny_bundle
    save_checkpoint(tmp_path / "m.pt", bundle)
    df.to_csv(tmp_path / "d.csv", index=False)
    common = ["probe", str(tmp_path / "m.pt"), "--data", str(tmp_path / "d.csv"), "--tasks",
              "label", "--views", "output@last,h_n/L0", "--folds", "2", "--no-mdl",
              "--no-random-baseline", "--no-umap", "--attribution-rows", "0", "--jobs", "1",
              "-q"]
    for flag, status in (("--no-interventions", "skipped"), ("--interventions", "done")):
        out = tmp_path / flag.strip("-")
        done = CliRunner().invoke(app, [*common, "--out", str(out), flag])
        assert done.exit_code == 0, done.output
        assert read_run(out).stages["interventions"].status == status
        assert (read_interventions(out) is None) == (status == "skipped")


def test_past_the_cap_the_stage_says_it_intervened_on_a_sample(tmp_path, tiny_bundle,
                                                              monkeypatch):
    from probe_rnn.interventions import api

    monkeypatch.setattr(api, "MAX_ROWS", 10)
    bundle, df = tiny_bundle
    probe(bundle, df, tmp_path / "run", RunSettings(**QUICK))
    held = int(df["split"].isin(["dev", "test"]).sum())
    assert held > 10
    table = read_interventions(tmp_path / "run")
    erased = table[(table["intervention"] == "erasure") & (table["measure"] == "agreement")]
    assert (erased["n"] == 10).all()
    detail = read_run(tmp_path / "run").stages["interventions"].detail
    assert f"10 of the {held} rows (a seeded sample)" in detail
    again = probe(bundle, df, tmp_path / "run", RunSettings(**QUICK))
    assert again.stages["interventions"].status == "reused"
    assert f"10 of the {held} rows (a seeded sample)" in again.stages["interventions"].detail
