"""Commands that work on states directly: ``capture`` (the state store) and ``attribute``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from probe_rnn.commands.common import (
    CheckpointArg,
    MaxRowsOpt,
    SchedulerOpt,
    SeedOpt,
    TableSource,
    cluster,
    console,
    split_list,
    table_options,
    writes_out,
)
from probe_rnn.commands.model_source import ModelSource, model_options

if TYPE_CHECKING:
    from probe_rnn.attribution import AttributionResult


@writes_out()
@model_options
@table_options
def capture_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder of the state store.")],
    checkpoint: CheckpointArg,
    views: Annotated[str | None, typer.Option(
        help="Comma-separated views (default: every sentence view of the catalogue and every "
        "per-token hidden/cell/output state).", show_default=False)] = None,
    dtype: Annotated[str, typer.Option(help="Storage dtype: float16 or float32.")] = "float16",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per forward pass.")] = 256,
    max_rows: MaxRowsOpt = None,
    verify: Annotated[str, typer.Option(
        help="Check recomputed states against the fused kernel on the 'first' batch or "
        "'every' batch.")] = "first",
    module: Annotated[str | None, typer.Option(
        "--module", help="One recurrent module to capture alone, every call of it (default: "
        "every recurrent module and every call, views named SITE:VIEW when several).",
        show_default=False)] = None,
    scheduler: SchedulerOpt = None,
    source: ModelSource = ModelSource(),
    table: TableSource = TableSource(),
    seed: SeedOpt = 0,
) -> None:
    """Capture every state of a model over a table into a state store (memory-mapped arrays)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from probe_rnn.capture import capture_states
    from probe_rnn.commands.output import disk_size
    from probe_rnn.data.sampling import sample_table

    columns = ("capture", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    done = {"batches": 0}
    with cluster(scheduler) as client:
        bundle = source.load(checkpoint, table.texts)
        df, _ = table.load()
        df = sample_table(df, max_rows, seed)
        source.check_rows(bundle, df)
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("capture", total=len(df))

            def progress(rows: int, total: int) -> None:
                done["batches"] += 1
                bar.update(task, completed=rows)

            store = capture_states(bundle, df, out, views=split_list(views, "--views"), dtype=dtype,
                            batch_size=batch_size, verify=verify, progress=progress,
                            module=module, client=client)
    reused = " (reused: same model, data and options)" if done["batches"] == 0 else ""
    typer.echo(f"captured {store.n_rows} rows, {len(store.views)} views, "
               f"{disk_size(store.path)} on disk -> {store.path}{reused}")
    from probe_rnn.capture.manifest import describe_kernel_check
    from probe_rnn.commands.common import print_wrapped

    print_wrapped(f"kernel check: {describe_kernel_check(store.manifest.kernel_check)}")


# -- attribution ------------------------------------------------------------------------------
@writes_out()
@model_options
@table_options
def attribute_cmd(
    checkpoint: CheckpointArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for the attribution files.")],
    method: Annotated[str, typer.Option(
        help="Token method: ig, saliency, ixg, deeplift, occlusion.")] = "ig",
    rows: Annotated[int, typer.Option(
        "--rows", help="Sentences to attribute (seeded sample, stratified by label).")] = 24,
    ids: Annotated[str | None, typer.Option(
        "--ids", help="Row numbers to attribute instead, e.g. 3,17,42.", show_default=False)
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Integration steps (IG) of token "
                                       "attributions.")] = 50,
    state_steps: Annotated[int, typer.Option(
        "--state-steps", min=1, help="Integration steps of per-step state attributions.")] = 16,
    target: Annotated[str | None, typer.Option(
        help="What to explain: a classifier's 'prediction' (its default) or gold 'label' logit; "
             "a language model's 'continuation' (its default: the log-likelihood of each row's "
             "own next tokens); a pair model's 'score' (its default); an encoder-decoder's "
             "'continuation' (its default: the log-likelihood of each row's target, "
             "teacher-forced). A model with none (an encoder) is skipped with a note.",
        show_default=False)] = None,
    source: ModelSource = ModelSource(),
    table: TableSource = TableSource(),
    seed: SeedOpt = 0,
) -> None:
    """Attribute predictions to tokens, per-step states and neurons; check completeness."""
    from probe_rnn.attribution import attribute
    from probe_rnn.errors import ConfigError

    picked: int | list[int] = rows
    if ids is not None:
        try:
            picked = [int(v) for v in split_list(ids, "--ids") or []]
        except ValueError:
            raise ConfigError(f"--ids must be comma-separated row numbers; got {ids!r}") from None
    bundle = source.load(checkpoint, table.texts)
    df, _ = table.load()
    source.check_rows(bundle, df)
    from probe_rnn.errors import NoTargetError
    from probe_rnn.progress import Progress

    try:  # a bar with ETA on a terminal, a line every 30 s in a log: per-step work can be long
        with Progress().stage("attribution", 0, "parts") as bar:
            result = attribute(bundle, df, out, method=method, rows=picked, n_steps=steps,
                               seed=seed, state_steps=state_steps, target=target,
                               progress=lambda done, total, what: bar(done, total))
    except NoTargetError as exc:  # nothing to explain: said, exit 0
        typer.echo(str(exc))
        return
    typer.echo(attribution_lines(result, method))
    typer.echo(f"files: {result.path}")


def attribution_lines(result: AttributionResult, method: str) -> str:
    """What ``attribute`` prints: the worst errors, the completeness verdict (in the CLI's
    option names) and what the unrolled copy's difference means."""
    from probe_rnn.attribution.verdict import unrolled_sentence, verdict_sentence
    from probe_rnn.commands.common import running_words

    worst = result.worst_completeness_error
    tok = "n/a for this method" if worst != worst else f"{worst:.2e}"
    manifest = result.manifest
    verdict = verdict_sentence(manifest["completeness"], manifest.get("n_steps"),
                               manifest.get("state_steps"), running_words())
    stages = manifest.get("stages")
    if stages:  # two texts: what was explained, and each stage that does not apply
        return "\n".join([
            f"attributed {len(result.examples)} pairs ({method}) of target "
            f"{manifest.get('target')}: {manifest.get('explains')}; worst completeness error: "
            f"tokens {tok}", verdict,
            *(f"{stage}: {note}" for stage, note in stages.items() if stage != "tokens")])
    return (f"attributed {len(result.examples)} sentences ({method}); worst completeness error: "
            f"tokens {tok}, steps {result.worst_step_error:.2e}\n{verdict}\n"
            f"{unrolled_sentence(result.manifest.get('twin_max_difference'))}")
