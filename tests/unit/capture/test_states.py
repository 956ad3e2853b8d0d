"""The packed layout behind :class:`~probe_rnn.capture.states.RecurrentStates`: scattering packed
rows to padded batch-major tensors, row-major flattening, each row's last step and the step a
state comes from, all against torch's own ``pack_padded_sequence``/``pad_packed_sequence``."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pad_packed_sequence

from tests.unit.capture.layout_support import LENGTHS, packed_batch


def test_layout_counts_match_the_packed_sequence() -> None:
    _, packed, layout = packed_batch()
    assert layout.time == max(LENGTHS) and layout.batch == len(LENGTHS)
    assert layout.n_tokens == sum(LENGTHS) == packed.data.shape[0]


def test_to_padded_is_torchs_pad_packed_sequence() -> None:
    x, packed, layout = packed_batch(dim=3)
    padded = layout.to_padded([packed.data, 2 * packed.data])  # two "layers"
    reference, lengths = pad_packed_sequence(packed, batch_first=True)
    assert padded.shape == (len(LENGTHS), max(LENGTHS), 2, 3)
    torch.testing.assert_close(padded[:, :, 0], reference, rtol=0, atol=0)
    torch.testing.assert_close(padded[:, :, 1], 2 * reference, rtol=0, atol=0)
    torch.testing.assert_close(padded[:, :, 0], x, rtol=0, atol=0)
    assert lengths.tolist() == LENGTHS


def test_to_flat_lists_each_rows_valid_steps_in_row_order() -> None:
    x, packed, layout = packed_batch()
    expected = torch.cat([x[i, :n] for i, n in enumerate(LENGTHS)])
    torch.testing.assert_close(layout.to_flat(packed.data), expected, rtol=0, atol=0)


def test_last_and_previous_indices_point_at_the_right_steps() -> None:
    x, packed, layout = packed_batch()
    order = packed.sorted_indices.tolist()
    last = packed.data.index_select(0, layout.index("last"))
    for sorted_row, row in enumerate(order):
        torch.testing.assert_close(last[sorted_row], x[row, LENGTHS[row] - 1])
    h0 = torch.full((layout.batch, x.shape[2]), -7.0)  # sorted order, marked
    stacked = torch.cat([h0, packed.data])
    prev_fwd = stacked.index_select(0, layout.index("prev_fwd"))
    prev_bwd = stacked.index_select(0, layout.index("prev_bwd"))
    offsets, sizes = layout.offsets, layout.batch_sizes
    for t, size in enumerate(sizes):
        for sorted_row in range(size):
            row, k = order[sorted_row], offsets[t] + sorted_row
            want_fwd = h0[sorted_row] if t == 0 else x[row, t - 1]
            want_bwd = h0[sorted_row] if t == LENGTHS[row] - 1 else x[row, t + 1]
            torch.testing.assert_close(prev_fwd[k], want_fwd)
            torch.testing.assert_close(prev_bwd[k], want_bwd)
