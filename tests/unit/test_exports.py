"""The library's face: ``probe_rnn`` exports a handful of names, each the function or class
(never a module), resolved lazily whatever was imported first; ``import probe_rnn`` and reading
a store do not import torch.

Each check runs in a fresh interpreter, since import order is what could make them differ.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

README_IMPORTS = "from probe_rnn import load_model, load_dataset, record"
#: What a user needs, and nothing else (issue: "a small public API").
FACE = {"probe", "RunSettings", "RunResult", "load_dataset", "list_datasets",
        "read_table", "load_model", "train", "Architecture", "TrainBudget", "record",
        "capture_states", "StateStore",
        "diagnose", "run_probes", "attribute", "build_report", "compare_readouts",
        "register_probe", "register_task", "register_adapter", "ProbeRnnError",
        "probe_stores", "ProbeSettings", "ProbeResults", "read_run", "Progress"}


def run_fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON object as its last line."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_face_is_the_handful_a_user_needs() -> None:
    got = run_fresh("""
        import json, sys
        import probe_rnn
        print(json.dumps({"all": sorted(probe_rnn.__all__), "torch": "torch" in sys.modules}))
    """)
    assert set(got["all"]) == FACE | {"__version__"}
    assert got["torch"] is False


@pytest.mark.parametrize("before", [README_IMPORTS, "", "import probe_rnn.capture.run_capture",
                                    "import probe_rnn.run.pipeline"],
                         ids=["after-readme-imports", "fresh", "after-run-capture", "after-run"])
def test_every_exported_name_is_its_defining_object_whatever_came_first(before: str) -> None:
    got = run_fresh(before + "\n" + textwrap.dedent("""
        import importlib, inspect, json, types
        import probe_rnn
        bad, where = [], {}
        for name in probe_rnn.__all__:
            if name == "__version__":
                continue
            value = getattr(probe_rnn, name)
            if isinstance(value, types.ModuleType) or not callable(value):
                bad.append(name)
            where[name] = value.__module__
            if getattr(importlib.import_module(value.__module__), name) is not value:
                bad.append(name)
        print(json.dumps({"bad": bad, "where": where,
                          "probe": list(inspect.signature(probe_rnn.probe).parameters)[:4]}))
    """))
    assert got["bad"] == []
    assert got["where"]["probe"] == "probe_rnn.run.pipeline"
    assert got["where"]["capture_states"] == "probe_rnn.capture.run_capture"
    assert got["where"]["record"] == "probe_rnn.capture.recorder"
    assert got["probe"] == ["model", "data", "out", "settings"]


def test_the_capture_package_is_a_plain_package() -> None:
    """No callable-module trick: ``probe_rnn.capture`` is a package, its function is
    ``capture_states``."""
    got = run_fresh("""
        import json, types
        import probe_rnn.capture as capture
        print(json.dumps({"callable": callable(capture),
                          "class": type(capture) is types.ModuleType,
                          "fn": capture.capture_states.__name__}))
    """)
    assert got == {"callable": False, "class": True, "fn": "capture_states"}


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


def test_importing_the_capture_package_and_its_store_does_not_import_torch() -> None:
    got = run_fresh("""
        import json, sys
        import probe_rnn.capture
        from probe_rnn.capture import StateStore
        from probe_rnn import StateStore as again
        print(json.dumps({"torch": "torch" in sys.modules, "store": StateStore.__name__,
                          "same": again is StateStore}))
    """)
    assert got == {"torch": False, "store": "StateStore", "same": True}


def test_capture_states_from_the_face_captures_a_store(tmp_path: Path) -> None:
    """A real capture through ``probe_rnn.capture_states(...)``; ``h_n/L0/fwd`` against a plain LSTM
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
        store = probe_rnn.capture_states(bundle, df, {str(tmp_path / "s")!r}, views=["h_n/L0/fwd"],
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


def test_the_readme_python_section_imports_only_from_the_face() -> None:
    """The README's "In Python" section: every import is ``from probe_rnn import ...`` of names
    in the face, and every call it shows in running text is a face name or a method."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In Python", 1)[1].split("\n## ", 1)[0]
    imports = re.findall(r"^from (\S+) import (.+)$", section, flags=re.M)
    assert imports, "the section shows no import"
    assert {module for module, _ in imports} == {"probe_rnn"}
    imported = {n.strip() for _, names in imports for n in names.split(",")}
    assert imported <= FACE
    called = set(re.findall(r"`([A-Za-z_]+)\(", section))
    assert called and called <= FACE, called - FACE
    assert "probe_rnn." not in section.replace("probe-rnn", "")


@pytest.mark.parametrize("package", ["probe_rnn.data", "probe_rnn.probing", "probe_rnn.capture",
                                     "probe_rnn.studies"])
def test_a_lazy_package_front_door_gives_every_name_it_lists(package: str) -> None:
    """``probe_rnn.data``, ``probing``, ``capture`` and ``studies`` import their names on first
    access (:mod:`probe_rnn.lazy_exports`): each listed name resolves (to what its submodule
    defines), and importing the package alone imports neither torch nor pandas."""
    got = run_fresh(f"""
        import importlib, json, sys
        package = importlib.import_module({package!r})
        light = not {{"torch", "pandas", "sklearn"}} & {{m.split(".")[0] for m in sys.modules}}
        wrong = [name for name in package.__all__
                 if getattr(package, name) is not getattr(
                     importlib.import_module(package._EXPORTS[name]
                                             if "." in package._EXPORTS[name]
                                             else {package!r} + "." + package._EXPORTS[name]),
                     name)]
        print(json.dumps({{"light": light, "wrong": wrong, "all": sorted(package.__all__),
                          "listed": sorted(package._EXPORTS), "dir": sorted(dir(package))}}))
    """)
    assert got["light"] is True
    assert got["all"] == got["listed"] and got["wrong"] == []
    assert set(got["all"]) <= set(got["dir"])
