"""First contact stays light: building the CLI and running ``--help``, ``datasets`` and
``plugins`` import none of the heavy libraries (torch, pandas, scikit-learn, ...).

Each case runs in a fresh interpreter (this test session has imported them all already) and
lists the heavy modules found in ``sys.modules``; an eager import added anywhere on the path
(a command module, a package ``__init__``, the plugin registry) makes it fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: What printing a table must not import (numpy too: nothing on these paths computes).
HEAVY = ("torch", "pandas", "numpy", "sklearn", "scipy", "captum", "matplotlib", "plotly",
         "umap", "numba", "dask", "pyarrow", "jinja2", "scipy.stats")

_SCRIPT = textwrap.dedent("""
    import contextlib, io, json, sys
    from probe_rnn.cli import app, main
    import typer

    typer.main.get_command(app)  # the whole app: every command and option built
    out = io.StringIO()
    for args in json.loads(sys.argv[1]):
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                main(args)
            except SystemExit as exc:
                code = exc.code
        if code != 0:
            sys.exit(f"{args} exited {code}: {out.getvalue()}")
    heavy = json.loads(sys.argv[2])
    loaded = sorted(name for name in heavy if name in sys.modules)
    print(json.dumps({"loaded": loaded, "output": out.getvalue()}))
""")


def _run(commands: list[list[str]], cwd: Path) -> dict[str, object]:
    """Run ``commands`` through ``main`` in one fresh interpreter in ``cwd``; what it imported
    of :data:`HEAVY` and what it printed."""
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(commands),
                           json.dumps(HEAVY)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_probe_is_able_to_see_a_heavy_import(tmp_path: Path) -> None:
    """The check itself: a command that needs pandas (reading a table's rows) is seen to."""
    (tmp_path / "t.csv").write_text("text,label\nab,x\ncd,y\n")
    found = _run([["--help"]], tmp_path)
    assert found["loaded"] == []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = ("import sys; from probe_rnn.data import read_table; read_table('t.csv'); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[1:])))")
    done = subprocess.run([sys.executable, "-c", code, *HEAVY], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    assert "pandas" in done.stdout


@pytest.mark.parametrize("commands", [
    [["--help"]],
    [["datasets"]],
    [["plugins"]],
    [["train", "--help"], ["probe", "--help"], ["capture", "--help"], ["attribute", "--help"],
     ["inspect", "--help"], ["demo", "--help"], ["report", "--help"],
     ["compare-readouts", "--help"], ["datasets", "--help"], ["plugins", "--help"]],
], ids=["help", "datasets", "plugins", "command-help"])
def test_first_contact_imports_nothing_heavy(commands: list[list[str]], tmp_path: Path) -> None:
    found = _run(commands, tmp_path)  # tmp_path: no ./probes folder to import
    assert found["loaded"] == [], f"{commands} imported {found['loaded']}"
    assert str(found["output"]).strip()


def test_datasets_lists_every_bundled_dataset(tmp_path: Path) -> None:
    from probe_rnn.data import list_datasets

    output = str(_run([["datasets"]], tmp_path)["output"])
    assert all(name in output for name in list_datasets())


def test_plugins_lists_built_ins_unimported_and_a_folder_imported(tmp_path: Path) -> None:
    """With a plugin folder that subclasses a built-in task, the folder's plugins are imported
    (they must be, to register) and the built-ins are still listed as built-in; torch and
    scikit-learn stay out when the folder does not use them."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "longer.py").write_text(textwrap.dedent('''
        from probe_rnn.plugins import register_task
        from probe_rnn.probing.tasks import LengthTask

        @register_task("longer")
        class Longer(LengthTask):
            """Length in finer bins."""

            name = "longer"
    '''))
    found = _run([["plugins", "--plugins", str(folder)]], tmp_path)
    output = str(found["output"])
    assert "longer.py" in output and "Length in finer bins." in output
    rows = {line.split("│")[2].strip(): line.split("│")[3].strip()
            for line in output.splitlines() if line.count("│") == 5}
    assert rows["length"] == rows["logistic"] == rows["probe-rnn"] == "built-in"
    assert not {"torch", "sklearn", "scipy"} & set(found["loaded"])  # type: ignore[arg-type]


def test_plugins_with_the_example_folder_imports_no_torch(tmp_path: Path) -> None:
    found = _run([["plugins", "--plugins", str(REPO / "probes")]], tmp_path)
    assert "centroid" in str(found["output"]) and "vowel-ending" in str(found["output"])
    assert "torch" not in found["loaded"]  # type: ignore[operator]


def test_re_rendering_a_report_imports_no_torch(tmp_path: Path) -> None:
    """``probe-rnn report DIR`` (a run folder with a readouts study, as the demo's) reads tables
    and stores and draws figures: it needs pandas and plotly, never torch (whose import was a
    third of a re-render)."""
    from tests.unit.report.factory import make_run
    from tests.unit.studies.study_support import hand_study

    run = make_run(tmp_path / "run")
    hand_study({"last": [0.8, 0.82], "hidden": [0.79, 0.8]}).save(run / "readouts")
    got = _run([["report", str(run), "--no-umap"]], tmp_path)
    assert "torch" not in got["loaded"], got
    # the second render reads the projections the first cached: then nor scikit-learn, nor
    # scipy.stats (1.2 s of a 7 s re-render): the intervals and p-values come from
    # scipy.special, to the bit (test_intervals.py)
    assert {"sklearn", "scipy.stats"} <= set(got["loaded"])  # the PCA fits: the probe sees
    again = _run([["report", str(run), "--no-umap"]], tmp_path)
    assert not {"torch", "sklearn", "scipy.stats"} & set(again["loaded"]), again
    assert {"pandas", "plotly", "scipy"} <= set(again["loaded"])  # it did render
    assert "readouts study in readouts/" in (run / "index.html").read_text()  # it was read
