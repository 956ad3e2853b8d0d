"""Reading a plain pickle without running it (``probe_rnn.models.pickles``): the scan names the
protocol and the first global that ``pickle`` itself wrote, at every protocol and through the
memo, says when the stream is cut, leaves torch's own files alone, and the data-only load
refuses every global while plain data loads."""

from __future__ import annotations

import collections
import pickle
import pickletools
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from probe_rnn.models.pickles import load_pickle, scan_pickle


def _dump(tmp_path: Path, obj: object, protocol: int, name: str = "model.pkl") -> Path:
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_the_first_global_and_protocol_are_found(tmp_path: Path, protocol: int) -> None:
    obj = {"weights": [1.0, 2.0], "kind": Fraction(1, 3)}  # Fraction: a class to import
    path = _dump(tmp_path, obj, protocol)
    scan = scan_pickle(path)
    assert scan is not None and scan.kind == "plain"
    assert scan.protocol == protocol
    assert scan.found == "fractions.Fraction"
    assert scan.end == path.stat().st_size  # parsed to its STOP, the file's end


def test_a_global_named_through_the_memo_is_found(tmp_path: Path) -> None:
    # the key "collections" is memoized first; the class's module is then read back from the
    # memo (BINGET) before STACK_GLOBAL, so the scan must follow the memo
    obj = {"collections": 1, "x": collections.OrderedDict(a=1)}
    data = pickle.dumps(obj, protocol=4)
    ops = [op.name for op, _, _ in pickletools.genops(data)]
    assert ops[ops.index("STACK_GLOBAL") - 3] == "BINGET"  # the case this test is about
    path = tmp_path / "memo.pkl"
    path.write_bytes(data)
    assert scan_pickle(path).found == "collections.OrderedDict"


def test_plain_data_names_no_global(tmp_path: Path) -> None:
    path = _dump(tmp_path, {"a": [1, 2, 3], "b": ("x", 2.5, None)}, 4)
    scan = scan_pickle(path)
    assert scan.kind == "plain" and scan.found is None
    assert load_pickle(path, data_only=True) == {"a": [1, 2, 3], "b": ("x", 2.5, None)}


def test_a_cut_stream_is_truncated(tmp_path: Path) -> None:
    data = pickle.dumps({"kind": Fraction(1, 3), "pad": list(range(200))}, protocol=4)
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: len(data) // 2])
    scan = scan_pickle(path)
    assert scan is not None and scan.kind == "truncated" and scan.end == len(data) // 2
    assert scan.protocol == 4


def test_not_a_pickle_or_torchs_own_formats_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "text.pkl").write_text("hello")
    assert scan_pickle(tmp_path / "text.pkl") is None
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    assert scan_pickle(legacy) is None  # torch's magic-number pickle: torch.load's job
    assert scan_pickle(_dump(tmp_path, [1], 0, "old.pkl")) is None  # protocol 0 (text)


def test_data_only_load_refuses_every_global(tmp_path: Path) -> None:
    path = _dump(tmp_path, Fraction(1, 3), 4)
    with pytest.raises(pickle.UnpicklingError, match=r"global fractions\.Fraction refused"):
        load_pickle(path, data_only=True)
    assert load_pickle(path, data_only=False) == Fraction(1, 3)
