"""The JSON objects of the typed records a run folder keeps (``run.json``'s
:class:`~probe_rnn.run_record.RunRecord`, a store's
:class:`~probe_rnn.capture.manifest.StoreManifest`): :func:`record_json` writes one with its keys
in a fixed order and absent ones left out, :func:`known_and_extra` reads one back, keeping the
keys a record does not know so that a newer file round-trips unchanged."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any


def record_json(record: Any, keys: Iterable[str], extra: Mapping[str, Any] | None = None, *,
                encode: Mapping[str, Callable[[Any], Any]] | None = None,
                head: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A record's JSON object: ``head``, then ``record``'s attribute for each of ``keys`` that
    is not None (through ``encode[key]`` where given), in that order, then the ``extra`` keys
    it does not hold yet."""
    out = dict(head or {})
    for key in keys:
        value = getattr(record, key)
        if value is not None:
            out[key] = encode[key](value) if encode and key in encode else value
    return {**out, **{k: v for k, v in (extra or {}).items() if k not in out}}


def known_and_extra(value: Mapping[str, Any], keys: Collection[str],
                    ignore: Collection[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``value`` split in two: the entries of ``keys`` it has (in the order of ``keys``) and
    the others (in its own order), leaving out those named in ``ignore``."""
    known = {k: value[k] for k in keys if k in value}
    return known, {k: v for k, v in value.items() if k not in known and k not in ignore}
