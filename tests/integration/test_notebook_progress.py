"""Progress in a real Jupyter kernel: a notebook cell that captures states with a
``Progress`` stage shows one display, updated in place (``update_display_data``), whose final
content is the stage's last line (done == total); nothing goes to stderr. A second cell's
``probe(..., progress=True)`` shows one such display per stage and no progress line in a stream
(its imports may warn on stderr: tqdm without ipywidgets).

The notebook runs with ``nbclient`` on an ``ipykernel`` started from this interpreter (a
kernelspec written to a temporary ``JUPYTER_PATH``), with this checkout first on its path.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
KERNEL = "probe-rnn-test"
ROWS, BATCH = 12, 4
CELL = f"""
from probe_rnn import Architecture, Progress, TrainBudget, capture_states, load_dataset, train

df = load_dataset("names").head(120)
bundle = train(df, Architecture(rnn="gru", embedding_dim=4, hidden=4), TrainBudget(epochs=1)).bundle
with Progress().stage("capture", {ROWS}, "rows") as bar:
    store = capture_states(bundle, df.head({ROWS}), "states", batch_size={BATCH}, progress=bar)
print("rows stored", store.n_rows)
"""
PROBE_CELL = """
from probe_rnn import probe

r = probe(bundle, df, "run", tasks=["label"], folds=2, views=["output@last"], attribution_rows=2,
          umap=False, mdl=False, random_baseline=False, interventions=False, progress=True)
"""
FINAL = re.compile(r"^(\w+)\s+(\d+)/(\d+) \w+ \(100%\)  elapsed \d+:\d\d  ETA 0:00$")


class RecordingClient(NotebookClient):
    """Records the cell, type and display id of every message the kernel sends."""

    seen: list[tuple[int, str, str | None]]

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        transient = msg["content"].get("transient") or {}
        self.seen.append((cell_index, msg["msg_type"], transient.get("display_id")))
        return super().process_message(msg, cell, cell_index)


def kernelspec(folder: Path) -> Path:
    """A kernelspec running ipykernel on this interpreter with this checkout on its path."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL, "language": "python",
        "env": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "IPYTHONDIR": str(folder / "ipy")},
    }))
    return folder


def final_lines(outputs: list) -> list[tuple[str, int, int]]:
    """Each display's final text as (stage, done, total); fails on a line that is not one."""
    lines = [out.data["text/plain"] for out in outputs if out.output_type == "display_data"]
    matches = [FINAL.match(line) for line in lines]
    assert all(matches), lines
    return [(m.group(1), int(m.group(2)), int(m.group(3))) for m in matches]


def test_stages_in_a_kernel_are_displays_updated_to_their_final_line(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernelspec(tmp_path / "jupyter")))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL),
                                                nbformat.v4.new_code_cell(PROBE_CELL)])
    client = RecordingClient(notebook, kernel_name=KERNEL, timeout=120,
                             resources={"metadata": {"path": str(tmp_path)}})
    client.seen = []
    client.execute()

    # the Progress stage: one display, updated in place, left at done == total
    outputs = notebook.cells[0].outputs
    shown = [ident for cell, kind, ident in client.seen if (cell, kind) == (0, "display_data")]
    updates = [ident for cell, kind, ident in client.seen
               if (cell, kind) == (0, "update_display_data")]
    assert len(shown) == 1 and shown[0] and updates and set(updates) == set(shown)
    assert len(updates) <= ROWS // BATCH + 1  # throttled: at most one a batch, and the end
    assert final_lines(outputs) == [("capture", ROWS, ROWS)]
    final = next(out for out in outputs if out.output_type == "display_data").data
    assert f'<progress value="{ROWS}" max="{ROWS}"' in final["text/html"]
    streams = [out for out in outputs if out.output_type == "stream"]
    assert [out.name for out in streams] == ["stdout"], streams  # nothing on stderr
    assert streams[0].text.strip() == f"rows stored {ROWS}"

    # probe(progress=True): one display per stage, each updated to its final line
    shown = [ident for cell, kind, ident in client.seen if (cell, kind) == (1, "display_data")]
    updated = {ident for cell, kind, ident in client.seen
               if (cell, kind) == (1, "update_display_data")}
    stages = final_lines(notebook.cells[1].outputs)
    assert len(shown) == len(set(shown)) == len(stages) and set(shown) <= updated
    assert [name for name, _, _ in stages][:2] == ["capture", "probing"]
    assert all(done == total > 0 for _, done, total in stages), stages
    texts = [out.text for out in notebook.cells[1].outputs if out.output_type == "stream"]
    assert not any(FINAL.match(line) for text in texts for line in text.splitlines()), texts
