"""One hashing module (:mod:`probe_rnn.hashing`): each helper equals hashlib on the same bytes,
and the keys that journals and run folders compare across versions (cell keys, store
identities, run and demo fingerprints, weights checksums, plugin code identities, module
names, fit-noise seeds) are byte-identical to the way they were computed with hashlib
directly before every site went through the module."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from probe_rnn import hashing


def _old_json(value, default=None) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=default).encode()).hexdigest()


def _old_rows(rows) -> str:
    return hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()


@pytest.mark.parametrize("text", ["", "abc", "naïve ✓", "x" * 10_000])
def test_text_bytes_and_short_ids_equal_hashlib(text) -> None:
    data = text.encode("utf-8")
    assert hashing.text_sha256(text) == hashlib.sha256(data).hexdigest()
    assert hashing.bytes_sha256(data) == hashlib.sha256(data).hexdigest()
    assert hashing.short_id(text) == hashlib.sha1(data).hexdigest()[:10]
    assert hashing.short_id(text, 4) == hashlib.sha1(data).hexdigest()[:4]
    assert hashing.seed_from_text(text) == int.from_bytes(
        hashlib.sha256(data).digest()[:8], "little")
    assert hashing.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()


def test_json_and_rows_digests_equal_hashlib() -> None:
    value = {"b": [1, 2.5, "é"], "a": {"z": None, "y": True}}
    assert hashing.json_sha256(value) == _old_json(value)
    odd = {"where": Path("a/b")}
    assert hashing.json_sha256(odd, default=repr) == _old_json(odd, repr)
    assert hashing.json_sha256(odd, default=str) == _old_json(odd, str)
    with pytest.raises(TypeError):
        hashing.json_sha256(odd)
    rows = np.array([3, 1, 2], dtype=np.int32)
    assert hashing.rows_sha256(rows) == _old_rows(rows) == hashing.rows_sha256([3, 1, 2])


def test_a_file_digest_is_that_of_its_bytes(tmp_path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(np.random.default_rng(0).bytes(3 * 1024 + 7))
    assert hashing.file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_cell_keys_and_store_identity_are_unchanged() -> None:
    from probe_rnn.probing.cells import Cell, Settings, _describe, cell_key, store_identity
    from probe_rnn.probing.protocol import PROTOCOL_VERSION
    from probe_rnn.probing.specs import make_probe
    from probe_rnn.probing.tasks import get_task

    manifest = {"rows": 5, "views": {"output@last": {"dim": 4}}, "created": "2026-01-01"}
    store = SimpleNamespace(manifest=manifest)
    rows = np.arange(5)
    cell = Cell("trained", store, "output@last", "sentence", get_task("label"), "logistic",
                "logistic", rows=rows)
    settings = Settings(folds=3)
    old_store = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    assert store_identity(store) == old_store
    from probe_rnn import __version__
    key = {"version": __version__, "protocol": PROTOCOL_VERSION, "model": "trained",
           "store": old_store, "rows": _old_rows(rows), "view": "output@last",
           "task": _describe(cell.task),
           "probe": ["logistic", _describe(make_probe("logistic", 0))],
           "settings": asdict(settings)}
    assert cell_key(cell, settings, code={}) == _old_json(key, repr)
    code = {"probes/p.py": "0" * 16}
    assert cell_key(cell, settings, code=code) == _old_json(key | {"code": code}, repr)


def test_run_fingerprint_is_unchanged() -> None:
    from probe_rnn import __version__
    from probe_rnn.run.settings import _NOT_NUMERIC, RunSettings

    settings = RunSettings()
    numeric = {k: v for k, v in settings.to_json().items() if k not in _NOT_NUMERIC}
    for code in (None, {"probes/p.py": "ab" * 8}):
        key = ["m" * 64, "d" * 64, __version__, numeric] + ([code] if code else [])
        assert settings.fingerprint("m" * 64, "d" * 64, code) == _old_json(key, str)


def test_weights_checksum_is_unchanged() -> None:
    from probe_rnn.capture.batches import weights_checksum

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(7, 3), torch.nn.LSTM(3, 4))
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{data.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes())
    assert weights_checksum(model) == digest.hexdigest()


def test_fit_noise_seed_is_unchanged() -> None:
    from probe_rnn.probing.protocol import with_fit_noise

    draws, variance = np.zeros((4, 2)), np.array([1.0, 0.5])
    key = int.from_bytes(hashlib.sha256(b"cell|accuracy").digest()[:8], "little")
    expected = np.random.default_rng([3, key]).standard_normal((4, 2)) * np.sqrt(variance)
    np.testing.assert_array_equal(with_fit_noise(draws, variance, 3, "cell|accuracy"), expected)


def test_plugin_code_identity_and_module_name_are_unchanged(tmp_path) -> None:
    from probe_rnn.plugins import Registry

    file = tmp_path / "my_probe.py"
    file.write_text("class Mine:\n    pass\n", encoding="utf-8")
    registry = Registry()
    assert registry._import_file(file)
    name = f"probe_rnn_plugin_my_probe_{hashlib.sha1(str(file).encode()).hexdigest()[:10]}"
    import sys

    from probe_rnn.usercode import code_identity

    mine = sys.modules[name].Mine
    assert code_identity(mine) == {
        str(file): hashlib.sha256(file.read_bytes()).hexdigest()[:16]}
    sys.modules.pop(name)
