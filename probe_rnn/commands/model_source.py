"""The options that say how to load the user's model, shared by every command that loads one.

``@model_options`` adds ``--model``, ``--vocab``, ``--tokenizer``, ``--pad-id``, ``--unk``,
``--layout``, ``--adapter``, ``--labels``, ``--trust-checkpoint``, ``--allow-batch-dependence``,
the batching options ``--pad-to``, ``--bos``, ``--eos``, ``--collate`` and ``--plugins`` to a
command and hands it one :class:`ModelSource` (parameter ``source``), so each command declares
them once and they read the same everywhere. :meth:`ModelSource.load` loads the plugins
(``--plugins`` folders and ``./probes``, so a plugin adapter works in every command) and checks
every option before the checkpoint is read (load_model's constraints, and
:meth:`ModelSource.check` for what load_model learns only later);
:meth:`ModelSource.check_rows` runs the batch-dependence check on the command's data. The
README's "Your own model" section is the contract these options implement.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer

from probe_rnn.commands.common import option_group
from probe_rnn.errors import InputFileError, Mention, ParameterError

if TYPE_CHECKING:
    from probe_rnn.models import ModelBundle

HELP_LINK = "see the README's 'Your own model'"


class ModelSource:
    """How to load the checkpoint: :func:`~probe_rnn.models.load_model`'s keywords as the
    options gave them (``factory``, ``vocab``, ``layout``, ``labels`` as the comma string, ...),
    the ``--plugins`` folders and ``--allow-batch-dependence``."""

    #: The options whose default is not None (the others are None unless given).
    DEFAULTS: ClassVar[dict[str, Any]] = {"layout": "auto", "trust_checkpoint": False,
                                          "allow_batch_dependence": False}

    def __init__(self, *, plugins: list[Path] | None = None,
                 allow_batch_dependence: bool = False, **load_options: Any) -> None:
        self.plugins, self.allow_batch_dependence = plugins, allow_batch_dependence
        self.load_options = load_options

    @property
    def adapter(self) -> str | None:
        """``--adapter``: a registered adapter's name, or None (detected)."""
        return self.load_options.get("adapter")

    @property
    def vocab(self) -> Path | None:
        """``--vocab``: the vocabulary file, or None."""
        return self.load_options.get("vocab")

    def check(self) -> None:
        """What :func:`~probe_rnn.models.load_model` checks only after reading the checkpoint:
        the adapter is a known one (``--plugins`` loaded) and the vocabulary file exists. The
        other values are checked by load_model's own constraints, also before the file is
        read."""
        from probe_rnn.plugins import registry
        from probe_rnn.validation import shown

        if self.adapter is not None and self.adapter not in registry.names("adapter"):
            raise ParameterError("adapter", "one of " + ", ".join(registry.names("adapter")),
                                 shown(self.adapter), "a plugin adapter's folder goes in --plugins")
        if self.vocab is not None and not self.vocab.is_file():
            raise InputFileError(f"vocabulary file {str(self.vocab)!r} does not exist: give the "
                                 "vocabulary file the model was trained with in ",
                                 Mention("vocab"))

    def label_names(self) -> list[str] | None:
        """``--labels a,b,c`` as a list (None when not given)."""
        from probe_rnn.validation import shown

        labels = self.load_options.get("labels")
        if labels is None:
            return None
        names = [x.strip() for x in labels.split(",")]
        if not all(names) or len(set(names)) != len(names):
            raise ParameterError("labels", "distinct comma-separated class names in the order "
                                 "of the model's outputs", shown(labels))
        return names

    def load(self, checkpoint: Path, texts: int | None = None) -> ModelBundle:
        """Load the plugins, check the options, then load the checkpoint as they say
        (``texts``: 2 when the command's table names two text columns, ``--text a,b``)."""
        from probe_rnn.commands.common import load_plugins
        from probe_rnn.models import load_model

        load_plugins(self.plugins)
        self.check()
        return load_model(checkpoint, **{**self.load_options, "labels": self.label_names()},
                          texts=texts)


    def check_rows(self, bundle: ModelBundle, df: Any) -> None:
        """The batch-dependence check on the command's table's texts (pairs with two text
        columns), before any work
        (:func:`~probe_rnn.models.batch_dependence.check_batch_dependence`): a model whose
        rows mix is a one-line error, or with ``--allow-batch-dependence`` a warning line."""
        from probe_rnn.commands.common import say
        from probe_rnn.data.text_pairs import model_inputs
        from probe_rnn.models.batch_dependence import check_batch_dependence

        result = check_batch_dependence(bundle, model_inputs(df),
                                        allow=self.allow_batch_dependence)
        if result["per_row"] is False:
            say(f"warning: {result['sentence']}; going on as --allow-batch-dependence asks "
                "(the report and run.json say so)")


def _given(kind: Any, flag: str, help_text: str) -> Any:
    """An option that is None unless given (no default shown), on the "Your model" panel."""
    return Annotated[kind | None, typer.Option(flag, show_default=False, help=help_text)]


_OPTIONS: dict[str, Any] = {
    "factory": _given(str, "--model", "Foreign model: 'file.py:build' or "
                      "'package.module:build', a function that builds the architecture; the "
                      f"checkpoint then holds its state_dict ({HELP_LINK})."),
    "vocab": _given(Path, "--vocab", "The model's vocabulary: a JSON map token->id, a JSON "
                    "list, or one token per line."),
    "tokenizer": _given(str, "--tokenizer", "How --vocab's tokens split a text: word "
                        "(default), char or basic-english (torchtext's: lower-cased, "
                        "punctuation split off)."),
    "pad_id": _given(int, "--pad-id", "Padding id (default: --vocab's <pad>, else the "
                     "embedding's padding_idx; without any, only needed once a batch has rows "
                     "of unequal length)."),
    "unk": _given(str, "--unk", "Unknown-token entry of --vocab (default: <unk> or [UNK] "
                  "when present)."),
    "layout": Annotated[str, typer.Option(
        "--layout", help="Ids the model reads: auto (detected by one probing call), batch "
        "(batch, time) or time (time, batch).")],
    "adapter": _given(str, "--adapter", "How the model is called: ids-lengths, ids, or a "
                      "plugin adapter (default: detected from forward's signature)."),
    "labels": _given(str, "--labels", "Class names in the order of the model's outputs, "
                     "comma-separated (default: the checkpoint's or factory's, else 0..n-1)."),
    "trust_checkpoint": Annotated[bool, typer.Option(
        "--trust-checkpoint",
        help="Allow a checkpoint that is a pickled module. Unpickling runs code: only for "
        "files you trust.")],
    "pad_to": _given(int, "--pad-to", "Pad every row to this many steps, as the model was "
                     "trained (torchtext's fix_length); longer rows are cut to fit."),
    "bos": _given(str, "--bos", "Token of --vocab put before every text (e.g. <sos>)."),
    "eos": _given(str, "--eos", "Token of --vocab put after every text (e.g. <eos>)."),
    "collate": _given(str, "--collate", "Your own batching: 'file.py:fn', a function from a "
                      "list of texts to the forward's arguments, as your DataLoader built them "
                      f"({HELP_LINK})."),
    "plugins": Annotated[list[Path] | None, typer.Option(
        "--plugins", show_default=False, help="Folder of plugin files (repeatable): probes, "
        "tasks and adapters; ./probes is always read.")],
    "allow_batch_dependence": Annotated[bool, typer.Option(
        "--allow-batch-dependence",
        help="Go on when the model's output for a row depends on the other rows of its batch "
        "(checked before any work on a few rows of equal length); the report says so.")],
}

for _annotation in _OPTIONS.values():  # listed together under --help
    _annotation.__metadata__[0].rich_help_panel = "Your model (see the README's 'Your own model')"


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` the model options; it receives them as ``source: ModelSource``."""
    return option_group(ModelSource, _OPTIONS, "source")(command)
