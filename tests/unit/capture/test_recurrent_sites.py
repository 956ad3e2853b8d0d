"""Sites: every recurrent module and every call of one forward, captured and checked against
each call's own output (caught by a forward hook on a plain forward, no record)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from probe_rnn.capture import StateStore, capture_states, sites
from probe_rnn.capture.recurrent_sites import module_roles
from probe_rnn.errors import ConfigError
from tests.unit.capture.site_models import (
    STEPS,
    EncoderDecoder,
    GreedyDecoder,
    Siamese,
    Stacked,
    own_calls,
    pair_table,
    site_bundle,
)

TOL = 1e-5


def _reference(bundle, df, module_name: str):  # noqa: ANN001, ANN202
    """Each call's own (output, h_n) of one module over the whole table, one forward."""
    batch = bundle.adapter.encode(list(df["text"]))
    with torch.no_grad(), own_calls(bundle.model.get_submodule(module_name)) as calls:
        bundle.adapter.forward(bundle.model, batch)
    return batch, calls


def _rows(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def _capture(model: nn.Module, tmp_path: Path, pair: bool = True, **kw):  # noqa: ANN003, ANN202
    torch.manual_seed(0)
    bundle = site_bundle(model, pair)
    df = pair_table()
    if not pair:
        df["text"] = df["text"].str.split("|").str[0]
    store = capture_states(bundle, df, tmp_path / "store", dtype="float32",
                           batch_size=len(df), **kw)
    return bundle, df, store


@pytest.mark.parametrize("packed", [False, True])
def test_both_calls_of_a_shared_encoder_equal_its_own_outputs(tmp_path: Path,
                                                              packed: bool) -> None:
    torch.manual_seed(1)
    bundle, df, store = _capture(Siamese(packed), tmp_path)
    batch, calls = _reference(bundle, df, "encoder")
    assert len(calls) == 2
    for site, (output, h_n), key in (("encoder", calls[0], "lengths"),
                                     ("encoder#2", calls[1], "lengths_2")):
        lengths = batch[key].numpy()
        flat, offsets = store.tokens(f"{site}:output")
        assert np.array_equal(np.diff(offsets), lengths)
        for row, got in enumerate(_rows(flat, offsets)):
            np.testing.assert_allclose(got, output[row, :lengths[row]].numpy(), atol=TOL)
        np.testing.assert_allclose(store.sentence(f"{site}:h_n/L0/fwd"), h_n[0].numpy(),
                                   atol=TOL)
        last = output[torch.arange(len(lengths)), batch[key] - 1].numpy()
        np.testing.assert_allclose(store.sentence(f"{site}:output@last"), last, atol=TOL)
        assert store.text_of(f"{site}:output") == (1 if site == "encoder" else 2)
    checks = store.manifest.kernel_check
    assert set(checks["sites"]) == {"encoder", "encoder#2"}
    assert checks["max_abs_error"] == max(c["max_abs_error"] for c in checks["sites"].values())


def test_encoder_and_teacher_forced_decoder_read_source_and_target(tmp_path: Path) -> None:
    bundle, df, store = _capture(EncoderDecoder(), tmp_path)
    batch, enc = _reference(bundle, df, "encoder")
    _, dec = _reference(bundle, df, "decoder")
    assert [s.name for s in sites(bundle, batch)] == ["encoder", "decoder"]
    np.testing.assert_allclose(store.sentence("encoder:h_n/L0/fwd"), enc[0][1][0].numpy(),
                               atol=TOL)
    target = batch["lengths_2"].numpy()
    for site, calls, lengths in (("encoder", enc, batch["lengths"].numpy()),
                                 ("decoder", dec, target)):
        flat, offsets = store.tokens(f"{site}:output")
        assert np.array_equal(np.diff(offsets), lengths)
        for row, got in enumerate(_rows(flat, offsets)):
            np.testing.assert_allclose(got, calls[0][0][row, :lengths[row]].numpy(), atol=TOL)
        np.testing.assert_allclose(store.sentence(f"{site}:h_n/L0/fwd"), calls[0][1][0].numpy(),
                                   atol=TOL)
    values, mask = store.sentence_masked("decoder:hidden/L0/fwd@2")  # through offsets_2
    assert np.array_equal(mask, target > 2)
    np.testing.assert_allclose(values[mask], dec[0][0][:, 2].numpy()[mask], atol=TOL)
    assert np.array_equal(store.meta["length_2"].to_numpy(), target)
    ids_2 = np.load(store.path / "token_ids_2.npy")
    assert np.array_equal(ids_2, batch["ids_2"][torch.arange(batch["ids_2"].shape[1])[None]
                                                < batch["lengths_2"][:, None]].numpy())


def test_a_greedy_decoder_stepping_one_token_at_a_time_is_one_site_along_time(
        tmp_path: Path) -> None:
    bundle, df, store = _capture(GreedyDecoder(), tmp_path, pair=False)
    batch, calls = _reference(bundle, df, "decoder")
    assert len(calls) == STEPS
    found = sites(bundle, batch)
    assert [(s.name, s.kind, s.calls, s.text) for s in found] == [
        ("encoder", "call", 1, 1), ("decoder", "stepped", STEPS, None)]
    for t, (output, _) in enumerate(calls):
        np.testing.assert_allclose(store.sentence(f"decoder:hidden/L0/fwd@{t}"),
                                   output[:, 0].numpy(), atol=TOL)
    np.testing.assert_allclose(store.sentence("decoder:h_n/L0/fwd"), calls[-1][1][0].numpy(),
                               atol=TOL)
    assert store.text_of("decoder:h_n/L0/fwd") is None
    assert np.array_equal(np.diff(store.tokens("decoder:output")[1]), [STEPS] * len(df))


def test_two_stacked_modules_on_one_text(tmp_path: Path) -> None:
    bundle, df, store = _capture(Stacked(), tmp_path, pair=False)
    batch, first = _reference(bundle, df, "rnn1")
    _, second = _reference(bundle, df, "rnn2")
    lengths = batch["lengths"].numpy()
    for site, calls in (("rnn1", first), ("rnn2", second)):
        flat, offsets = store.tokens(f"{site}:output")
        for row, got in enumerate(_rows(flat, offsets)):
            np.testing.assert_allclose(got, calls[0][0][row, :lengths[row]].numpy(), atol=TOL)
    assert store.manifest.capture["sites"][1]["text"] == 1
    assert not (store.path / "offsets_2.npy").exists()


def test_one_module_restricts_the_capture_to_its_calls(tmp_path: Path) -> None:
    _, _, store = _capture(EncoderDecoder(), tmp_path, module="decoder")
    assert "h_n/L0/fwd" in store.views and not any(":" in v for v in store.views)


def test_requested_views_name_a_site_or_every_site(tmp_path: Path) -> None:
    _, _, store = _capture(Siamese(), tmp_path, views=["encoder#2:output@last", "h_n/L0/fwd"])
    assert store.views == ["encoder:h_n/L0/fwd", "encoder#2:output@last", "encoder#2:h_n/L0/fwd"]


def test_module_roles_are_the_shortest_distinct_leading_part() -> None:
    class Nested(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.ModuleDict({"gru": nn.GRU(3, 3)})
            self.decoder = nn.ModuleDict({"gru": nn.GRU(3, 3)})
            self.layers = nn.ModuleList([nn.LSTM(3, 3), nn.LSTM(3, 3)])

    assert module_roles(Nested()) == {"encoder.gru": "encoder", "decoder.gru": "decoder",
                                      "layers.0": "layers.0", "layers.1": "layers.1"}
    assert module_roles(nn.ModuleDict({"lstm": nn.LSTM(3, 3)})) == {"lstm": "lstm"}


def test_a_site_prefix_must_be_a_role_with_an_optional_call_number() -> None:
    from probe_rnn.catalogue import ViewSpec

    for bad in ("encoder#1:h_n/L0/fwd", ":h_n/L0/fwd", "a b:output@last", "enc:nothing"):
        with pytest.raises(ConfigError):
            ViewSpec.parse(bad)


def test_a_single_site_store_has_the_names_and_files_it_always_had(tmp_path: Path) -> None:
    from tests.unit.capture.store_support import make_bundle, make_table

    store = capture_states(make_bundle(), make_table(), tmp_path / "one", batch_size=8)
    assert not any(":" in name for name in store.views)
    assert "sites" not in store.manifest.capture and "sites" not in store.manifest.kernel_check
    assert sorted(p.name for p in store.path.iterdir()) == [
        "manifest.json", "meta.parquet", "offsets.npy", "token_ids.npy", "views"]
    assert "length_2" not in store.meta.columns
    assert all(not spec.extra for spec in store.manifest.views.values())
    assert set(store.manifest.diagnosis[0]) and {r["module"] for r in
                                                 store.manifest.diagnosis} == {"rnn"}


def test_the_diagnosis_is_per_site_under_the_site_name(tmp_path: Path) -> None:
    _, _, store = _capture(Siamese(), tmp_path)
    assert {r["module"] for r in store.manifest.diagnosis} == {"encoder", "encoder#2"}
    reread = StateStore(store.path)
    assert reread.views == store.views


def test_a_sharded_capture_of_several_sites_equals_a_local_one(tmp_path: Path,
                                                              monkeypatch) -> None:  # noqa: ANN001
    import probe_rnn.cluster as cluster

    class Client:  # runs each shard here, in order: what a Dask worker would compute
        @staticmethod
        def scheduler_info() -> dict:
            return {"workers": {"w1": {}, "w2": {}}}

        @staticmethod
        def scatter(obj, **_kw):  # noqa: ANN001, ANN003, ANN205
            return obj

    ran: list[int] = []

    def here(_client, fn, calls, _kind, _names):  # noqa: ANN001, ANN202
        for args in calls:
            ran.append(len(args[3]))
            yield fn(*args)

    monkeypatch.setattr(cluster, "map_unordered", here)
    torch.manual_seed(2)
    bundle, df = site_bundle(EncoderDecoder()), pair_table(n=13)
    local = capture_states(bundle, df, tmp_path / "local", batch_size=3)
    shards = capture_states(bundle, df, tmp_path / "shards", batch_size=3, client=Client())
    assert len(ran) > 1 and sum(ran) == len(df) - 3  # every row after the first batch
    assert shards.views == local.views
    for name in local.views:
        assert np.array_equal(np.load(shards.path / shards.manifest.views[name].file),
                              np.load(local.path / local.manifest.views[name].file)), name
    for file in ("offsets_2.npy", "token_ids_2.npy", "token_ids.npy"):
        assert np.array_equal(np.load(shards.path / file), np.load(local.path / file))
    assert shards.meta.equals(local.meta)
    assert shards.manifest.diagnosis == local.manifest.diagnosis


@pytest.mark.parametrize(("views", "words"), [
    (["decoder:output@last"], "names the site 'decoder'"),
    (["encoder#2:h_n/L1/fwd"], "not available"),
])
def test_a_requested_view_no_site_has_is_one_line_error(tmp_path: Path, views: list[str],
                                                        words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _capture(Siamese(), tmp_path, views=views)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "store" / "manifest.json").exists()


def test_a_bare_view_of_the_second_module_only_passes_the_early_check() -> None:
    from probe_rnn.capture.views import check_views

    model = nn.ModuleDict({"rnn1": nn.GRU(3, 3), "rnn2": nn.LSTM(3, 3, num_layers=2)})
    check_views(model, ["cell/L1/fwd@2", "rnn2:c_n/L1/fwd", "h_n/L0/fwd"])  # rnn2 has them
    with pytest.raises(ConfigError, match="not available"):
        check_views(model, ["cell/L2/fwd"])


def test_sites_of_a_bare_module_called_with_the_batch() -> None:
    torch.manual_seed(0)
    model = Siamese().eval()
    batch = {"ids": torch.tensor([[1, 2, 0], [3, 4, 5]]), "lengths": torch.tensor([2, 3]),
             "ids_2": torch.tensor([[2, 0], [1, 1]]), "lengths_2": torch.tensor([1, 2])}
    found = sites(model, batch)
    assert [(s.name, s.module, s.call, s.kind, s.text) for s in found] == [
        ("encoder", "encoder", 1, "call", 1), ("encoder#2", "encoder", 2, "call", 2)]
    assert found[1].to_dict()["name"] == "encoder#2"


def test_a_stepped_site_with_fewer_steps_on_a_later_batch_is_one_line_error(
        tmp_path: Path) -> None:
    from probe_rnn.errors import CaptureError

    df = pair_table(n=11)  # batches of 4, 4 and 3 rows: the last one steps once less
    df["text"] = df["text"].str.split("|").str[0]
    bundle = site_bundle(GreedyDecoder(short_last=True), pair=False)
    with pytest.raises(CaptureError) as caught:
        capture_states(bundle, df, tmp_path / "s", batch_size=4)
    assert "ran 3 steps on the batch at row 8, 4 on the first" in str(caught.value)
    assert not (tmp_path / "s" / "manifest.json").exists()


def test_a_site_prefix_on_a_one_site_model_is_one_line_error(tmp_path: Path) -> None:
    from tests.unit.capture.store_support import make_bundle, make_table

    with pytest.raises(ConfigError, match="runs one recurrent site: name its views without"):
        capture_states(make_bundle(), make_table(), tmp_path / "one", views=["rnn:h_n/L0/fwd"])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_a_padded_run_modules_views_at_real_tokens_equal_the_re_laid_out_states(kind: str
                                                                                ) -> None:
    """A module that ran over the padded batch: each sentence view read straight from its
    padded output with the real lengths equals the view of its states re-laid out at the real
    tokens (the old route, by repacking), ``output@-1`` keeps the padding it read."""
    import numpy as np

    from probe_rnn.capture import record, sentence_view
    from probe_rnn.capture.recurrent_sites import real_tokens, view_at_real_tokens
    from probe_rnn.capture.views import available_views
    from probe_rnn.catalogue import parse_view

    torch.manual_seed(4)
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    module = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True).eval()
    lengths = np.array([5, 2, 7, 3])
    with torch.no_grad(), record(module, lazy_cells=True) as rec:
        module(torch.randn(4, 7, 3))
    states = rec[""]
    relaid = real_tokens(states, lengths, 0)
    memo: dict = {}
    names = [v for v in available_views(states) if parse_view(v).kind == "sentence"]
    assert "mean(output)" in names and "max(output)" in names
    for view in names:
        got = view_at_real_tokens(states, view, "sentence", lengths, 0, memo)
        reference = sentence_view(states if view == "output@-1" else relaid, view)
        torch.testing.assert_close(got, reference, atol=1e-6, rtol=1e-6)
    assert memo["ran_real"] is False and "states" not in memo  # nothing was re-laid out
