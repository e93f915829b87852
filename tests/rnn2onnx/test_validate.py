"""validate(): the comparison rule, generated inputs, the report and its failure mode."""
import numpy as np
import pytest

import rnn2onnx
from rnn2onnx import ValidationError
from rnn2onnx.validate import compare, generate_inputs, padding_patterns

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


def test_compare_fails_any_non_finite_output_even_when_both_sides_agree():
    # issue 12: a model computing NaN everywhere used to "pass" with error 0
    for value in (np.nan, np.inf, -np.inf):
        ref = np.array([value, 1.0])
        for dtype in ("float32", "float64"):
            report = compare(ref, ref.copy(), "y", dtype)
            assert not report.passed and report.max_rel_error == float("inf")
            assert not compare(np.array([0.5, 1.0]), ref, "y", dtype).passed
            assert not compare(ref, np.array([0.5, 1.0]), "y", dtype).passed
    ref = np.array([np.inf, np.nan, 1.0])
    assert not compare(ref, np.array([np.inf, 0.0, 1.0]), "y", "float64").passed
    assert not compare(ref, np.array([1.0, np.nan, 1.0]), "y", "float64").passed
    assert not compare(np.zeros((2, 3)), np.zeros((3, 2)), "y", "float64").passed


def test_padding_patterns_cover_every_mask_kind():
    masks = padding_patterns(10, 6, np.random.default_rng(0))
    rows = [tuple(m) for m in masks.astype(int)]
    assert (1,) * 6 in rows                                                   # no padding
    assert any(r[0] == 0 and r[-1] == 1 and sorted(r) == list(r) for r in rows)  # left
    assert any(r[0] == 1 and r[-1] == 0 and sorted(r, reverse=True) == list(r) for r in rows)  # right
    assert any(sum(r) == 1 for r in rows)                                    # all but one step masked


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
