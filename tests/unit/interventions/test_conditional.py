"""Conditional bits: about 0 for a view given itself or a superset, the plain bits given
noise, and the plain bits themselves equal the probing measure's H(Y) - CE."""

from __future__ import annotations

import numpy as np
import pytest

from probe_rnn.interventions.conditional import conditional_bits, cross_fitted_bits
from probe_rnn.probing.splits import group_ids, group_kfold


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    b = rng.normal(size=(n, 3)) + 1.2 * y[:, None] * np.array([1.0, 0.0, 0.0])
    other = rng.normal(size=(n, 3))
    other[:, 0] += 0.8 * (y * 2 - 1)
    return b, other, y.astype(str)


def _plain_bits(x, y, seed=0):
    folds = group_kfold(group_ids(np.arange(len(y))), 5, seed)
    return float(np.mean(cross_fitted_bits(x, y, folds, seed)))


def test_a_view_given_itself_or_a_superset_adds_about_nothing(data):
    b, other, y = data
    assert _plain_bits(b, y) > 0.15  # b carries the label (about 0.2 bits; noise gives 0)
    value, low, high, n = conditional_bits(b, b, y)
    assert abs(value) < 0.02 and n == len(y) and low <= value <= high
    superset = np.concatenate([b, other], axis=1)
    assert abs(conditional_bits(superset, b, y)[0]) < 0.02


def test_given_noise_a_view_adds_its_plain_bits(data):
    b, _, y = data
    noise = np.random.default_rng(5).normal(size=(len(y), 2))
    value = conditional_bits(noise, b, y)[0]
    assert abs(value - _plain_bits(b, y)) < 0.03


def test_a_view_adds_what_the_other_lacks(data):
    b, other, y = data
    beyond = conditional_bits(other, b, y)[0]
    assert 0.05 < beyond < _plain_bits(b, y)


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")


def test_the_probes_fit_on_one_blas_thread_as_probing_cells_do(data, monkeypatch):
    """Two BLAS threads made these fits 3x slower (4,000 rows x 1,024 columns: 16.2 s against
    4.6 s); the stage runs in the main process, where numpy may use every core."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from probe_rnn.interventions.erasure import fresh_probe_accuracy
    from probe_rnn.probing.jobs import Fitter

    seen: list[int] = []
    fit, sk_fit = Fitter.fit, LogisticRegression.fit

    def recording(self, *args, **kwargs):
        seen.append(_blas_threads())
        return fit(self, *args, **kwargs)

    def sk_recording(self, *args, **kwargs):
        seen.append(_blas_threads())
        return sk_fit(self, *args, **kwargs)

    monkeypatch.setattr(Fitter, "fit", recording)
    monkeypatch.setattr(LogisticRegression, "fit", sk_recording)
    b, other, y = data
    with threadpool_limits(limits=2):
        assert _blas_threads() == 2  # the premise: two threads outside
        conditional_bits(other, b, y)
        import torch

        fresh_probe_accuracy(torch.as_tensor(b[:300]), y[:300], torch.as_tensor(b[300:]),
                             y[300:])
        assert _blas_threads() == 2  # given back after
    assert len(seen) >= 11 and set(seen) == {1}, seen  # 2 x 5 folds and the sanity probe
