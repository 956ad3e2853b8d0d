"""Projections: seeded, fitted once on the shown points, cached by a hash of their inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from probe_rnn.errors import ConfigError
from probe_rnn.report import build_report
from probe_rnn.report import projections as P


def _data(n: int = 80, dim: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.arange(n), rng.normal(size=(n, dim)).astype(np.float32)


def test_subsample_is_seeded_sorted_and_bounded() -> None:
    a, b = P.subsample(5000, 1500, 3), P.subsample(5000, 1500, 3)
    assert np.array_equal(a, b) and len(a) == 1500 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, P.subsample(5000, 1500, 4))
    assert np.array_equal(P.subsample(40, 1500, 0), np.arange(40))


def test_pca_matches_sklearn(tmp_path) -> None:
    rows, x = _data()
    coords, hit = P.cached_projection(tmp_path, "h_n/L0/fwd", rows, x, "pca", 0)
    reference = PCA(n_components=2).fit_transform(x.astype(np.float64))
    assert not hit
    # principal components are defined up to sign
    for k in range(2):
        sign = np.sign(coords[0, k]) * np.sign(reference[0, k])
        np.testing.assert_allclose(coords[:, k], sign * reference[:, k], atol=1e-4)


def test_cache_hit_does_not_refit(tmp_path, monkeypatch) -> None:
    rows, x = _data()
    first, hit = P.cached_projection(tmp_path, "mean(output)", rows, x, "pca", 0)
    assert not hit and P.cache_file(tmp_path, "mean(output)", "pca").is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("the cached coordinates should have been used")

    monkeypatch.setattr(P, "_fit_pca", refuse)
    again, hit = P.cached_projection(tmp_path, "mean(output)", rows, x, "pca", 0)
    assert hit and np.array_equal(first, again)


def test_changed_inputs_refit(tmp_path, monkeypatch) -> None:
    rows, x = _data()
    P.cached_projection(tmp_path, "v", rows, x, "pca", 0)
    calls = []
    real = P._fit_pca
    monkeypatch.setattr(P, "_fit_pca", lambda a, s: calls.append(1) or real(a, s))
    x2 = x.copy()
    x2[0, 0] += 1.0
    _, hit = P.cached_projection(tmp_path, "v", rows, x2, "pca", 0)
    _, hit_seed = P.cached_projection(tmp_path, "v", rows, x2, "pca", 1)
    assert not hit and not hit_seed and len(calls) == 2


def test_key_depends_on_every_input() -> None:
    rows, x = _data()
    base = P.input_key("v", rows, x, "pca", 0)
    assert base == P.input_key("v", rows.copy(), x.copy(), "pca", 0)
    assert base != P.input_key("w", rows, x, "pca", 0)
    assert base != P.input_key("v", rows + 1, x, "pca", 0)
    assert base != P.input_key("v", rows, x, "umap", 0)
    assert base != P.input_key("v", rows, x, "pca", 1)


def test_bad_method_is_a_config_error() -> None:
    rows, x = _data()
    with pytest.raises(ConfigError, match="umap"):
        P.fit_projection(x, "tsne", 0)


@pytest.mark.slow
def test_umap_same_seed_identical_coordinates() -> None:
    _, x = _data(n=60)
    a = P.fit_projection(x, "umap", 7)
    b = P.fit_projection(x, "umap", 7)
    assert a.shape == (60, 2) and np.isfinite(a).all()
    assert np.array_equal(a, b)


def test_report_rerender_reuses_projections(run_dir, monkeypatch) -> None:
    first = build_report(run_dir, umap=False)
    assert first.projection_hits and not any(first.projection_hits.values())
    monkeypatch.setattr(P, "_fit_pca", lambda *a: (_ for _ in ()).throw(AssertionError("refit")))
    second = build_report(run_dir, umap=False)
    assert all(second.projection_hits.values())
    assert set(second.projection_hits) == {"output@last", "h_n/L1/fwd", "h_n/L1/bwd",
                                           "mean(output)"}
