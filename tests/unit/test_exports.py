"""Lazy exports mean one thing whatever the import order: ``probe_rnn.capture`` is the callable
subpackage (calling it captures), ``probe_rnn.capture.record`` is the context-manager function.

Each check runs in a fresh interpreter, since the clash depended on what was imported before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README_IMPORTS = "from probe_rnn import load_model, load_dataset, record"


def run_fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON object as its last line."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


CHECK_CAPTURE = """
    import inspect, json, sys, types
    from probe_rnn import capture
    print(json.dumps({
        "callable": callable(capture),
        "is_package": capture is sys.modules["probe_rnn.capture"],
        "is_module": isinstance(capture, types.ModuleType),
        "params": list(inspect.signature(capture).parameters)[:3],
        "store_class": capture.StateStore.__module__ + "." + capture.StateStore.__name__,
        "same_as_attribute": capture is sys.modules["probe_rnn"].capture,
    }))
"""


@pytest.mark.parametrize("before", [README_IMPORTS, "", "import probe_rnn.capture.run_capture"],
                         ids=["after-readme-imports", "fresh", "after-run-capture"])
def test_capture_is_the_callable_package_whatever_came_first(before: str) -> None:
    got = run_fresh(before + "\n" + textwrap.dedent(CHECK_CAPTURE))
    assert got == {"callable": True, "is_package": True, "is_module": True,
                   "params": ["bundle", "df", "out_dir"],
                   "store_class": "probe_rnn.capture.store.StateStore",
                   "same_as_attribute": True}


def test_readme_imports_after_capture_still_give_the_functions() -> None:
    got = run_fresh("""
        import inspect, json, sys, types
        from probe_rnn import capture
        from probe_rnn import load_model, load_dataset, record
        from probe_rnn import capture as again
        print(json.dumps({
            "record_is_function": inspect.isfunction(record),
            "record_module": record.__module__,
            "capture_is_package": again is capture is sys.modules["probe_rnn.capture"],
            "capture_callable": callable(again),
            "load_model": inspect.isfunction(load_model),
        }))
    """)
    assert got == {"record_is_function": True, "record_module": "probe_rnn.capture.recorder",
                   "capture_is_package": True, "capture_callable": True, "load_model": True}


@pytest.mark.parametrize("before", ["import probe_rnn.capture.recorder", ""])
def test_record_is_the_context_manager_function_after_its_module_is_imported(before: str) -> None:
    got = run_fresh(before + "\n" + textwrap.dedent("""
        import inspect, json, sys, types
        import torch
        from probe_rnn.capture import record
        import probe_rnn
        with record(torch.nn.Sequential(torch.nn.LSTM(2, 3))) as rec:
            kind = type(rec).__name__
        print(json.dumps({
            "module": isinstance(record, types.ModuleType),
            "function": inspect.isfunction(record),
            "same": record is sys.modules["probe_rnn.capture.recorder"].record
                    is probe_rnn.record,
            "yields": kind,
        }))
    """))
    assert got == {"module": False, "function": True, "same": True, "yields": "Recorder"}


def test_every_exported_name_resolves_to_one_non_module_object() -> None:
    got = run_fresh(f"""
        {README_IMPORTS}
        import importlib, json, sys, types
        import probe_rnn, probe_rnn.capture
        for sub in ("recorder", "run_capture", "store", "states", "views", "diagnosis"):
            importlib.import_module("probe_rnn.capture." + sub)  # every submodule imported
        bad = []
        for pkg in (probe_rnn, probe_rnn.capture):
            for name in pkg.__all__:
                value = getattr(pkg, name)
                if pkg is probe_rnn and name == "capture":
                    if value is not sys.modules["probe_rnn.capture"] or not callable(value):
                        bad.append(pkg.__name__ + "." + name)
                elif isinstance(value, types.ModuleType):
                    bad.append(pkg.__name__ + "." + name)
        print(json.dumps({{"bad": bad, "n": len(probe_rnn.__all__) + len(probe_rnn.capture.__all__),
                           "capture_fn": probe_rnn.capture.capture.__module__}}))
    """)
    assert got["bad"] == []
    assert got["n"] > 30  # both lists were really walked
    assert got["capture_fn"] == "probe_rnn.capture.run_capture"


def test_importing_the_capture_package_and_its_store_does_not_import_torch() -> None:
    got = run_fresh("""
        import json, sys
        import probe_rnn.capture
        from probe_rnn.capture import StateStore
        from probe_rnn import capture
        print(json.dumps({"torch": "torch" in sys.modules, "store": StateStore.__name__}))
    """)
    assert got == {"torch": False, "store": "StateStore"}


def test_calling_the_package_captures_a_store(tmp_path: Path) -> None:
    """A real capture through ``probe_rnn.capture(...)``; ``h_n/L0/fwd`` against a plain LSTM
    run on each sentence alone (no padding, no packing, no library code)."""
    got = run_fresh(f"""
        import json
        import numpy as np, pandas as pd, torch
        import probe_rnn
        from probe_rnn.data.tokenizers import Tokenizer
        from probe_rnn.models.adapters import ProbeRnnAdapter
        from probe_rnn.models.bundle import ModelBundle
        from probe_rnn.models.classifier import RNNClassifier
        from probe_rnn.models.config import ModelConfig

        texts = ["abc", "b", "gafed", "ca", "ddddddd", "e"]
        df = pd.DataFrame({{"text": texts, "label": ["x", "y"] * 3}})
        tok = Tokenizer("char").fit(list("abcdefg"))
        cfg = ModelConfig(vocab_size=len(tok), n_labels=2, rnn="lstm", embedding_dim=4,
                          hidden=3, layers=1, bidirectional=False, packed=True)
        torch.manual_seed(0)
        model = RNNClassifier(cfg).eval()
        bundle = ModelBundle(model=model, tokenizer=tok, labels=["x", "y"], config=cfg,
                             meta={{}}, adapter=ProbeRnnAdapter(tok), source="test",
                             checksum="test")
        store = probe_rnn.capture(bundle, df, {str(tmp_path / "s")!r}, views=["h_n/L0/fwd"],
                                  dtype="float32", batch_size=4)
        got = store.sentence("h_n/L0/fwd")
        with torch.no_grad():
            want = np.stack([model.rnn(model.embedding(torch.tensor([tok.encode(t)])))[1][0]
                             [0, 0].numpy() for t in texts])
        print(json.dumps({{"type": type(store).__name__, "rows": store.n_rows,
                           "shape": list(got.shape),
                           "err": float(np.abs(got - want).max())}}))
    """)
    assert got["type"] == "StateStore" and got["rows"] == 6 and got["shape"] == [6, 3]
    assert got["err"] < 1e-5
    assert (tmp_path / "s" / "manifest.json").is_file()
