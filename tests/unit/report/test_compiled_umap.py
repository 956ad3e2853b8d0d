"""umap-learn's numba functions compile to numba's on-disk cache (compiled once per machine).

Each case imports umap-learn in a fresh interpreter (this session may have imported it
already) and reads which cache each of its numba dispatchers carries: numba's ``NullCache``
(compiled in every process) or ``FunctionCache`` (compiled once, loaded after). The plain
import shows the premise: umap-learn declares the functions of its layout and its graph
without ``cache=True``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

_SCRIPT = textwrap.dedent("""
    import json, sys
    if sys.argv[1] == "plain":
        import umap
    else:
        from probe_rnn.report.compiled_umap import import_umap
        umap = import_umap()
        assert import_umap() is umap  # a second call returns the module, importing nothing
    import numba
    import umap.layouts, umap.umap_
    functions = {
        "layout epoch": umap.layouts._nb_optimize_layout_euclidean_single_epoch,
        "smooth_knn_dist": umap.umap_.smooth_knn_dist,
        "membership strengths": umap.umap_.compute_membership_strengths,
        "layout clip": umap.layouts.clip,
    }
    caches = {name: type(f._cache).__name__ for name, f in functions.items()}
    # numba's own decorators are left as they were
    restored = all(f.__module__.startswith("numba") for f in (numba.njit, numba.jit))
    print(json.dumps({"caches": caches, "restored": restored}))
""")


def _caches(mode: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, mode], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_umap_s_functions_compile_to_the_disk_cache_only_through_import_umap() -> None:
    plain, ours = _caches("plain"), _caches("ours")
    assert set(plain["caches"].values()) == {"NullCache"}, plain  # type: ignore[union-attr]
    assert set(ours["caches"].values()) == {"FunctionCache"}, ours  # type: ignore[union-attr]
    assert ours["restored"]
