"""validate(): the comparison rule, generated inputs, the report and its failure mode."""
import numpy as np
import pytest

import rnn2onnx
from rnn2onnx import ValidationError
from reference.errors import ConfigError
from rnn2onnx.conformance.models import build_model
from rnn2onnx.validation import PADDING_KINDS, SCALE_FLOOR, compare, generate_inputs, padding_patterns

from .models import build


def test_compare_measures_error_relative_to_output_scale():
    ref = np.array([[2.0, -4.0], [1.0, 0.0]])
    r = compare(ref, ref + np.array([[0.0, 4e-5], [0.0, 0.0]]), "y", "float32")
    assert r.max_abs_error == pytest.approx(4e-5)
    assert r.max_rel_error == pytest.approx(1e-5)
    assert r.passed
    assert not compare(ref, ref + 4.1e-5, "y", "float32").passed
    assert not compare(ref, ref + 4.1e-10, "y", "float64").passed
    assert compare(ref, ref + 3.9e-10, "y", "float64").passed


def test_compare_fails_non_finite_outputs_the_reference_does_not_have():
    # hostile input: a model computing NaN everywhere used to "pass" with error 0
    for value in (np.nan, np.inf, -np.inf):
        ref = np.array([value, 1.0])
        for dtype in ("float32", "float64"):
            everywhere = np.full(3, value)
            report = compare(everywhere, everywhere.copy(), "y", dtype)
            assert not report.passed and report.max_rel_error == float("inf")
            assert not compare(np.array([0.5, 1.0]), ref, "y", dtype).passed
            assert not compare(ref, np.array([0.5, 1.0]), "y", dtype).passed
            # where Keras computes NaN (0/0 over an all-masked row), the same NaN agrees
            assert compare(ref, ref.copy(), "y", dtype).passed
            assert not compare(ref, np.array([value, 1.5]), "y", dtype).passed
    ref = np.array([np.inf, np.nan, 1.0])
    assert not compare(ref, np.array([np.inf, 0.0, 1.0]), "y", "float64").passed
    assert not compare(ref, np.array([1.0, np.nan, 1.0]), "y", "float64").passed
    assert not compare(np.zeros((2, 3)), np.zeros((3, 2)), "y", "float64").passed


def test_outputs_of_the_wrong_sign_fail_however_small():
    # a float32 error used to be divided by max(|reference|, 1): outputs of 3e-7 whose
    # signs were all wrong passed with "max rel err 6.7e-07"
    for dtype, scales in (("float32", (1.0, 1e-3, 3e-7, 1.3e-7)), ("float64", (1.0, 1e-9, 3e-16))):
        for scale in scales:
            ref = scale * np.array([[0.4, -1.0], [0.7, 0.2]])
            assert not compare(ref, -ref, "y", dtype).passed, (dtype, scale)
            assert compare(ref, ref * (1 + TOLERANCE_FRACTION[dtype]), "y", dtype).passed, (dtype, scale)


TOLERANCE_FRACTION = {"float32": 5e-6, "float64": 5e-11}  # half the tolerance, relative


def test_small_outputs_allow_two_ulps_at_one():
    # an honest float32 export measured 6e-8 absolute error on an output of scale 2.5e-3
    # (rounding of values of order 1 inside the computation): it passes, 2.4e-7 does not
    ref = np.full((2, 3), 2.5e-3)
    assert SCALE_FLOOR["float32"] == pytest.approx(2 * np.finfo(np.float32).eps / 1e-5)
    assert compare(ref, ref + 6e-8, "y", "float32").passed
    assert not compare(ref, ref + 2.4e-7, "y", "float32").passed
    tiny = np.full((2, 3), 1e-6)  # below float64's floor: two ulps at 1 (4.4e-16) allowed
    assert compare(tiny, tiny + 4e-16, "y", "float64").passed
    assert not compare(tiny, tiny + 5e-16, "y", "float64").passed


def test_a_model_with_tiny_outputs_of_the_wrong_sign_fails_validation():
    model = build_model([("GRU", {"output_dim": 3, "input_shape": (None, 4)}), ("Dense", {"output_dim": 2})],
                        weights=None)
    W, b = model.layers[1].get_weights()
    model.layers[1].set_weights([W * 1e-6, b * 0])  # outputs of order 1e-6
    proto = rnn2onnx.export(model)
    model.layers[1].set_weights([-W * 1e-6, b * 0])
    assert not rnn2onnx.validate(model, proto, raise_on_failure=False).passed


def test_padding_patterns_cover_every_mask_kind_whatever_n():
    for n in (1, 2, 5, 10):
        masks = padding_patterns(n, 6, np.random.default_rng(n))
        assert len(masks) == max(n, len(PADDING_KINDS))
        rows = [tuple(m) for m in masks.astype(int)]
        assert (1,) * 6 in rows                                                   # no padding
        assert any(r[0] == 0 and r[-1] == 1 and sorted(r) == list(r) for r in rows)  # left
        assert any(r[0] == 1 and r[-1] == 0 and sorted(r, reverse=True) == list(r) for r in rows)  # right
        assert any(r[0] == r[-1] == 1 and 0 in r for r in rows)                 # a hole
        assert any(sum(r) == 1 for r in rows)                                    # all but one step masked
        assert (0,) * 6 in rows                                                   # all masked


@pytest.mark.parametrize("n", [1, 2])
def test_a_model_exported_without_its_mask_fails_validation_whatever_n(n):
    def model(mask_zero):
        return build_model([("GRU", {"output_dim": 3})], "embedding" if mask_zero else "ids", weights=None, vocab=9)
    unmasked = rnn2onnx.export(model(False))
    with pytest.raises(ValidationError):
        rnn2onnx.validate(model(True), unmasked, n=n)


@pytest.mark.parametrize("n", [0, -3, 1.5, "8", 2 ** 64])
def test_validate_refuses_a_bad_sample_count(n):
    with pytest.raises(ConfigError, match="validate: n (must be a positive integer|is .* more than the 10000 accepted)"):
        rnn2onnx.validate(build("GRU"), rnn2onnx.export(build("GRU")), n=n)


def test_generated_ids_and_masked_floats():
    ids = generate_inputs(build("GRU", "embedding"), n=10, T=6)
    assert ids.dtype == np.int64 and (ids == 0).any() and (ids != 0).any()
    X = generate_inputs(build("GRU", "masking"), n=10, T=6)
    assert X.dtype == np.float32 and X.shape == (10, 6, 4)
    assert (np.all(X == 0.0, axis=-1)).any()


def test_report_table_and_error():
    model = build("LSTM", "embedding")
    proto = rnn2onnx.export(model, validate=False)
    report = rnn2onnx.validate(model, proto)
    table = report.format_table()
    assert "max abs err" in table and "PASS" in table
    assert report.to_dict()["passed"] is True
    # a different model's weights: the same graph no longer matches
    other = build("LSTM", "embedding", seed=7)
    with pytest.raises(ValidationError) as err:
        rnn2onnx.validate(other, proto)
    assert "FAIL" in str(err.value) and not err.value.report.passed
    assert rnn2onnx.validate(other, proto, raise_on_failure=False).passed is False


def test_validate_on_user_inputs_and_path(tmp_path):
    model = build("JZS3", "none", return_sequences=True, dtype="float64")
    path = tmp_path / "m.onnx"
    rnn2onnx.export(model, path)
    X = np.random.default_rng(0).normal(size=(3, 1, 4))  # length-1 sequences
    report = rnn2onnx.validate(model, path, inputs=X)
    assert report.passed and report.outputs[0].shape == (3, 1, 3)
