"""Where the libraries probe-rnn uses keep their caches: one documented folder, never ``$HOME``.

Captum imports matplotlib, which writes a font cache on first import (to ``~/.cache`` or
``~/.matplotlib`` by default), and umap-learn's numba functions cache their compiled code
(beside umap's own sources, or under ``~/.cache``). The ``probe-rnn`` command points both at
the probe-rnn cache folder, unless the user set them already:

* ``MPLCONFIGDIR`` -> ``<cache>/matplotlib``
* ``NUMBA_CACHE_DIR`` -> ``<cache>/numba``

where ``<cache>`` is ``$PROBE_RNN_CACHE`` when set, else ``probe-rnn-cache-<uid>`` in the
system's temporary folder (``/tmp/probe-rnn-cache-1000``). The README's "Caches" section says
the same. Nothing in it is needed for a result: deleting it only costs a few seconds once.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: The environment variable that chooses the cache folder.
CACHE_ENV = "PROBE_RNN_CACHE"
#: Each library's own variable -> its sub-folder of the cache folder.
_LIBRARIES = {"MPLCONFIGDIR": "matplotlib", "NUMBA_CACHE_DIR": "numba"}


def cache_folder() -> Path:
    """``$PROBE_RNN_CACHE``, else ``probe-rnn-cache-<uid>`` in the temporary folder."""
    given = os.environ.get(CACHE_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"probe-rnn-cache-{uid}"


def use_cache_folder() -> Path:
    """Point matplotlib's and numba's caches at :func:`cache_folder` (each only when its
    variable is unset), creating the folders; returns the cache folder. A folder that cannot
    be created is left to the library's own fallback."""
    folder = cache_folder()
    for variable, name in _LIBRARIES.items():
        if os.environ.get(variable):
            continue
        try:
            (folder / name).mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            continue
        os.environ[variable] = str(folder / name)
    return folder
