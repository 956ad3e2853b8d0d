"""Example task plugin: does the sentence end in a vowel?

For first names (``--dataset names``) this is a famous gender cue (Anna, Maria vs. John,
Peter), so it is worth asking whether a state carries it separately from the label. Works for
any text: the last alphabetic character of the text decides; texts without letters are left
out (target ``None``).

Use it with ``probe-rnn probe ... --tasks label vowel-ending``.
"""

from __future__ import annotations

import numpy as np

from probe_rnn.plugins import register_task
from probe_rnn.probing.tasks import Task

VOWELS = set("aeiouyàáâäåèéêëìíîïòóôöùúûü")


@register_task("vowel-ending")
class VowelEndingTask(Task):
    """Classification, one target per sentence: "vowel" or "consonant" (last letter)."""

    name = "vowel-ending"
    kind = "classification"
    level = "sentence"
    description = "last letter is a vowel"

    def targets(self, meta, tokens, offsets, level=None):  # noqa: ANN001, ANN201
        """One of "vowel"/"consonant" per row of ``meta`` (None when the text has no letter)."""
        out = np.empty(len(meta), dtype=object)
        for i, text in enumerate(meta["text"].astype(str)):
            letters = [c for c in text.lower() if c.isalpha()]
            out[i] = None if not letters else ("vowel" if letters[-1] in VOWELS else "consonant")
        return out
