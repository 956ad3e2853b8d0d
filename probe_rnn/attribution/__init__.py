"""Attribution for recurrent models, done the way Captum needs it on RNNs.

* :func:`attribute`: the whole stage (tokens, per-step states, neurons, probes) into a folder.
* :func:`token_attributions`: IG on the embedding (PAD baseline, lengths never attributed) or
  saliency / InputXGradient / DeepLift / occlusion, with per-sentence completeness.
* :func:`step_attributions`: per-(layer, direction, state, step) attribution through the
  :class:`UnrolledRNN` twin, checked against each step's ablation effect.
* :func:`probe_token_attributions`: tokens -> model -> view -> linear probe decision.
* :func:`rank_neurons`: top-k units of a view and their agreement with a probe's weights.
* :func:`text_token_attributions`: a model reading two texts (a pair model's score, an
  encoder-decoder's continuation), attributed to the tokens of both texts at once, each
  embedding call fed its own text (:func:`find_text_parts`).

Everything runs with cuDNN disabled and the model in ``eval()``.
"""

from probe_rnn.attribution.neurons import default_neuron_views, rank_neurons, view_units
from probe_rnn.attribution.parts import ModelParts, find_parts
from probe_rnn.attribution.probe_attribution import (
    linear_probe_to_torch,
    probe_token_attributions,
    sentence_view_from,
)
from probe_rnn.attribution.result import AttributionResult, select_rows
from probe_rnn.attribution.runner import attribute
from probe_rnn.attribution.steps import StepAttributions, step_attributions
from probe_rnn.attribution.text_tokens import TextTokenAttributions, text_token_attributions
from probe_rnn.attribution.texts import TextsParts, find_text_parts
from probe_rnn.attribution.tokens import METHODS, TokenAttributions, token_attributions
from probe_rnn.attribution.unrolled import Taps, TwinStates, UnrolledRNN, twin_in_place, verify_twin

__all__ = [
    "attribute",
    "AttributionResult",
    "select_rows",
    "METHODS",
    "ModelParts",
    "find_parts",
    "token_attributions",
    "TokenAttributions",
    "text_token_attributions",
    "TextTokenAttributions",
    "find_text_parts",
    "TextsParts",
    "step_attributions",
    "StepAttributions",
    "probe_token_attributions",
    "linear_probe_to_torch",
    "sentence_view_from",
    "rank_neurons",
    "view_units",
    "default_neuron_views",
    "UnrolledRNN",
    "Taps",
    "TwinStates",
    "twin_in_place",
    "verify_twin",
]
