"""How the commands show what they found: the model card, the output-vs-hidden diagnosis,
per-epoch training bars, plugin origins and sizes on disk."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe_rnn.commands.common import stdout

if TYPE_CHECKING:
    import pandas as pd


def print_model_card(card: dict[str, Any]) -> None:
    """Rich tables for a model card (:meth:`probe_rnn.models.ModelBundle.card`)."""
    from rich.table import Table

    # plain text (paths, labels and config values may hold "[...]", which is not markup here),
    # one line per fact whatever the terminal width
    out = stdout(soft_wrap=True)
    out.print(f"{card['source']}  format: {card['format']}  "
              f"parameters: {card['parameters']:,}  sha256: {card['checksum'][:16]}")
    if card["config"]:
        out.print("config: " + ", ".join(f"{k}={v}" for k, v in card["config"].items()))
    modules = Table(title="recurrent modules")
    keys = ("name", "type", "layers", "directions", "hidden", "proj_size", "parameters")
    for key in keys:
        modules.add_column(key)
    for module in card["recurrent_modules"]:
        modules.add_row(*(f"{module[k]:,}" if k == "parameters" else str(module[k]) for k in keys))
    out.print(modules if card["recurrent_modules"] else "recurrent modules: none found")
    tok = card["tokenizer"]
    source = f" from {tok['source']}" if tok and tok.get("source") else ""
    out.print("tokenizer: " + (f"{tok['kind']}, vocabulary {tok['vocab_size']}{source}" if tok
                               else f"none (adapter {card['adapter']})"))
    if card.get("call"):
        out.print(f"called as: {card['call']}")
    if card.get("embedding"):
        out.print(f"token embedding: {card['embedding']}")
    returns = card.get("returns", "logits")
    if returns is None:
        out.print("returns: known after a first batch (a collate function; give --data)")
    elif returns != "logits":
        from probe_rnn.models.outputs import OUTPUT_WORDS

        out.print(f"returns: {OUTPUT_WORDS.get(returns, returns)}")
    if card["labels"] or returns == "logits":
        out.print(f"labels ({len(card['labels'])}): {', '.join(card['labels'])}")
    if card["meta"]:
        meta = Table(title="how it was trained", show_header=False)
        for key, value in card["meta"].items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            elif isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            elif isinstance(value, list):
                value = ", ".join(map(str, value))
            meta.add_row(str(key), str(value))
        out.print(meta)
    else:
        out.print("how it was trained: no training metadata in this file")


def print_diagnosis(table: pd.DataFrame, source: str) -> None:
    """One Rich table per recurrent module, then the diagnosis in plain sentences."""
    from rich.table import Table

    from probe_rnn.capture import format_diagnosis

    out = stdout()
    for module, group in table.groupby("module", sort=False):
        view = Table(title=f"output vs hidden: {module} on {source}")
        for column in ("check", "value", "unit"):
            view.add_column(column, justify="right" if column == "value" else "left")
        for row in group.itertuples():
            view.add_row(str(row.check), f"{row.value:.4g}", str(row.unit))
        out.print(view)
    out.print(format_diagnosis(table), soft_wrap=True, markup=False)


def epoch_bars(bar: Any) -> Any:
    """A ``train`` progress callback drawing one Rich bar per epoch."""
    tasks: dict[int, Any] = {}

    def on_event(event: Any) -> None:
        if event.epoch not in tasks:
            tasks[event.epoch] = bar.add_task(
                f"epoch {event.epoch}/{event.epochs}", total=event.batches or None, info=""
            )
        info = f"loss {event.train_loss:.3f}"
        if event.dev_accuracy is None:
            bar.update(tasks[event.epoch], completed=event.batch, info=info)
        else:
            bar.update(tasks[event.epoch], info=f"{info}  dev acc {event.dev_accuracy:.3f}")

    return on_event


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")  # :class:`~a.b.C` -> C (the last dotted part)


def plain_summary(doc: str | None) -> str:
    """The first paragraph of a docstring as plain text: reStructuredText roles and literals
    (``:class:`~x.Y```, ````code````, ``*emphasis*``) become their words."""
    lines = []
    for line in (doc or "").strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    text = " ".join(lines)
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"(?<![\w*])\*{1,2}([^*\s][^*]*?)\*{1,2}(?![\w*])", r"\1", text)
    return text


def short_origin(origin: str) -> str:
    """A plugin file under the working directory is shown relative to it (``probes/x.py``)."""
    path = Path(origin)
    if not path.is_absolute():
        return origin
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return origin


def disk_size(path: Path) -> str:
    """Total size of the files under ``path``, human-readable (``12.3 MB``)."""
    size = float(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"

