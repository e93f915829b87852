"""The mask kinds (rnn2onnx/masks.py) as their definitions say, written out by hand."""
import numpy as np
import pytest

from rnn2onnx import masks


def rng():
    return np.random.default_rng(0)


def test_padding_kinds_pad_row_i_by_i_mod_T_steps():
    assert masks.keep("none", 2, 3, rng()).tolist() == [[True] * 3] * 2
    assert masks.keep("left", 4, 3, rng()).astype(int).tolist() == [[1, 1, 1], [0, 1, 1], [0, 0, 1], [1, 1, 1]]
    assert masks.keep("right", 4, 3, rng()).astype(int).tolist() == [[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]]


def test_holes_end_with_a_zero_length_row():
    keep = masks.keep("holes", 6, 40, rng())
    assert keep.dtype == bool and keep.shape == (6, 40)
    assert not keep[-1].any()
    assert all(row.any() and not row.all() for row in keep[:-1])  # 40 draws at 0.6: some of each


def test_masking_mixes_left_right_holes_and_all_masked_rows():
    keep = masks.keep("masking", 9, 5, rng()).astype(int)
    assert keep[0].tolist() == [1, 1, 1, 1, 1]     # left, padded by 0
    assert keep[1].tolist() == [1, 1, 1, 1, 0]     # right, by 1
    assert keep[3].tolist() == [0, 0, 0, 0, 0]     # all masked
    assert keep[4].tolist() == [0, 0, 0, 0, 1]     # left, by 4
    assert keep[5].tolist() == [1, 1, 1, 1, 1]     # right, by 5 % 5
    assert keep[7].tolist() == [0, 0, 0, 0, 0]
    assert keep[8].tolist() == [0, 0, 0, 1, 1]     # left, by 8 % 5


def test_every_is_validates_mixed_batch():
    assert np.array_equal(masks.keep("every", 3, 6, rng()), masks.padding_patterns(3, 6, rng()))


def test_an_unknown_kind_is_refused_with_the_kinds():
    with pytest.raises(ValueError, match="unknown mask kind 'middle'; the kinds are none, left, right, holes, "
                                         "masking, every"):
        masks.keep("middle", 2, 3, rng())


# the one model builder (rnn2onnx/conformance/models.py)

def test_the_builder_puts_each_input_kind_first():
    from rnn2onnx.conformance.models import build_model

    layers = [("GRU", {"return_sequences": True}), ("Dense", {"output_dim": 2})]
    first = {kind: build_model(layers, kind).layers[0] for kind in ("embedding", "ids", "masking", "float")}
    assert type(first["embedding"]).__name__ == "Embedding" and first["embedding"].mask_zero
    assert type(first["ids"]).__name__ == "Embedding" and not first["ids"].mask_zero
    assert type(first["masking"]).__name__ == "Masking"
    assert type(first["float"]).__name__ == "GRU" and first["float"].input_shape == (None, 4)
    assert first["float"].output_dim == 5


def test_the_builder_moves_the_biases_or_draws_every_weight():
    from rnn2onnx.conformance.models import build_model

    layers = [("LSTM", {})]
    initial = build_model(layers, weights=None, seed=3)
    moved = build_model(layers, seed=3)
    drawn = build_model(layers, weights=0.6, seed=3)
    for name, a, b, c in zip(initial.layers[0].weight_names, initial.get_weights(), moved.get_weights(),
                             drawn.get_weights()):
        assert np.array_equal(a, b) != name.startswith("b"), name  # only the biases move
        assert not np.array_equal(a, c), name
    with pytest.raises(ValueError, match="unknown input kind 'tokens'; the kinds are float, embedding, masking, ids"):
        build_model(layers, "tokens")
    with pytest.raises(ValueError, match="unknown weights 'glorot'"):
        build_model(layers, weights="glorot")
