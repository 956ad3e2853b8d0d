"""Reading a plain Python pickle (``pickle.dump``, not ``torch.save``) without running it.

:func:`scan_pickle` parses a file's first pickle opcode by opcode with
:func:`pickletools.genops`, which builds no object and runs no code, and says what it found:
the protocol, the first global the stream would import (the class a pickled model is), and
whether the stream ends before its ``STOP`` (truncated). :func:`load_pickle` then loads it,
either fully (trusted) or refusing every global (plain data only, no code can run).
:mod:`probe_rnn.models.checkpoint` uses both to refuse, report or load such a file.
"""

from __future__ import annotations

import pickle
import pickletools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# torch.save's legacy (non-zip) format starts with a pickle of this number
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
               "SHORT_BINUNICODE", "BINUNICODE8"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}


@dataclass
class PickleScan:
    """What parsing the file's first pickle found (no object was built, no code ran)."""

    kind: str  # "plain" (a complete pickle.dump stream) or "truncated"
    protocol: int
    found: str | None  # the first global it names, "module.name"
    end: int  # byte offset where parsing stopped


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"global {module}.{name} refused")


def scan_pickle(path: Path) -> PickleScan | None:
    """Parse the first pickle of a non-zip file opcode by opcode with ``pickletools.genops``.

    ``None``: not a protocol-2+ pickle, or the magic-number pickle of torch's legacy format (left
    to ``torch.load``). Otherwise the stream's first global (``GLOBAL``, ``INST``, or
    ``STACK_GLOBAL`` with the two strings pushed before it, memo included) and whether the
    stream ends before its ``STOP``.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        if handle.read(1) != b"\x80":
            return None
        handle.seek(0)
        protocol, found, finder, first = 0, None, _GlobalFinder(), True
        try:
            for op, arg, _ in pickletools.genops(handle):
                if op.name == "PROTO":
                    protocol = int(arg)
                elif op.name != "FRAME" and first:
                    first = False
                    if op.name in {"LONG1", "LONG4"} and arg == _TORCH_MAGIC:
                        return None
                if op.name == "STOP":
                    return PickleScan("plain", protocol, found, handle.tell())
                if found is None:
                    found = finder.feed(op.name, arg)
        except ValueError:  # pickletools' parse errors: at the end = truncated, else damaged
            if handle.tell() < size:
                return None
            return PickleScan("truncated", protocol, found, size)
    return None


class _GlobalFinder:
    """Fed opcodes in order, returns the ``module.name`` an opcode imports (else ``None``)."""

    def __init__(self) -> None:
        self.last: list[str | None] = [None, None]  # what the last two pushes were, if strings
        self.memo: dict[int, str] = {}  # memo slots holding strings
        self.memoized = 0  # MEMOIZE's next slot

    def feed(self, name: str, arg: Any) -> str | None:
        if name in {"GLOBAL", "INST"}:
            return ".".join(str(arg).split(" ", 1))
        if name == "STACK_GLOBAL":
            module, attr = self.last
            return f"{module}.{attr}" if module and attr else "a global named at run time"
        if name in {"EXT1", "EXT2", "EXT4"}:
            return f"copyreg extension code {arg}"
        if name in _PUT_OPS or name == "MEMOIZE":
            if name == "MEMOIZE":
                slot, self.memoized = self.memoized, self.memoized + 1
            else:
                slot = int(arg)
            if self.last[-1] is not None:
                self.memo[slot] = self.last[-1]
            else:
                self.memo.pop(slot, None)
            return None
        pushed = None
        if name in _STRING_OPS:
            pushed = arg if isinstance(arg, str) else bytes(arg).decode("latin-1")
        elif name in _GET_OPS:
            pushed = self.memo.get(int(arg))
        self.last = [self.last[-1], pushed]
        return None


def load_pickle(path: Path, data_only: bool) -> Any:
    """``pickle.load`` of a plain pickle; ``data_only`` refuses every global (runs no code)."""
    with open(path, "rb") as handle:
        return (_DataOnlyUnpickler if data_only else pickle.Unpickler)(handle).load()
