"""``probe-rnn demo``: train (or reuse) a 2-layer BiLSTM on bundled names, probe it, report.

The demo is the whole product on embedded data with no arguments: it trains a character-level
2-layer bidirectional LSTM to tell female from male US census first names, saves it as
``<out>/model.pt``, then runs :func:`probe_rnn.pipeline.run_pipeline` into the same folder.
A second run reuses the checkpoint, the state stores and every finished stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe_rnn.errors import CheckpointError
from probe_rnn.pipeline import RunResult, Say, run_pipeline

if TYPE_CHECKING:
    from probe_rnn.progress import Progress

__all__ = ["DEMO_MODEL", "DEMO_RUN", "run_demo"]

#: The demo's model: what `probe-rnn train` would build with these options.
DEMO_MODEL: dict[str, Any] = {
    "tokenizer": "char",
    "rnn": "lstm",
    "layers": 2,
    "bidirectional": True,
    "hidden": 64,
    "embedding_dim": 32,
    "readout": "last",
    "epochs": 8,
    "batch_size": 64,
    "lr": 3e-3,
}

#: Sentence views of the state catalogue for the demo's 2-layer BiLSTM, plus the top layer's
#: per-timestep hidden states, both directions, for the curves over t.
DEMO_VIEWS: list[str] = [
    "output@last", "output@-1", "mean(output)", "max(output)",
    *(f"{s}/L{layer}/{d}" for s in ("h_n", "c_n") for layer in (0, 1) for d in ("fwd", "bwd")),
    "hidden/L1/fwd", "hidden/L1/bwd",
]

#: The demo's probing run: kept small enough for a 2-core machine in about a minute.
DEMO_RUN: dict[str, Any] = {
    "views": DEMO_VIEWS,
    "tasks": ["label", "length", "word-content", "first-token", "last-token",
              "token-back-1", "token-back-2"],
    "folds": 3,
    "seeds": 1,
    "max_rows": None,
    "attribution_rows": 16,
}


def run_demo(
    out: str | Path = "reports/demo",
    *,
    seed: int = 0,
    umap: bool = True,
    retrain: bool = False,
    jobs: int = -1,
    say: Say | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Train or reuse the demo model, then probe, attribute and report into ``out``."""
    from probe_rnn.data import load_dataset
    from probe_rnn.models import load_model, save_checkpoint, train

    say = say or (lambda line: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = load_dataset("names", seed=seed)
    model_path = out / "model.pt"
    bundle = None
    if model_path.exists() and not retrain:
        try:
            bundle = load_model(model_path)
            say(f"{'model':<12} reusing {model_path}")
        except CheckpointError as exc:
            say(f"{'model':<12} cannot reuse {model_path} ({exc}); training again")
    if bundle is None:
        import torch


        # a model this small trains fastest on one thread: measured here 8.9 s on one,
        # 30 s on two with the CLI's passive OpenMP waits (7.5 s with busy-waiting threads)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            result = train(df, seed=seed, source="dataset:names", **DEMO_MODEL)
        finally:
            torch.set_num_threads(threads)
        save_checkpoint(model_path, result.bundle)
        bundle = load_model(model_path)
        say(
            f"{'train':<12} dev accuracy {result.dev_accuracy:.3f}  "
            f"test accuracy {result.test_accuracy:.3f}  -> {model_path}"
        )
    return run_pipeline(
        bundle, df, out, source="dataset:names", name="demo", seed=seed, umap=umap, jobs=jobs,
        arguments={"command": "demo", **DEMO_MODEL, **DEMO_RUN}, say=say, progress=progress,
        **DEMO_RUN,
    )
