"""Unrolled files through onnx2tf -> TensorFlow Lite (rnn2onnx/tflite.py): every cell,
masked (left and right padding, holes, all-masked rows) and unmasked, both
return_sequences, against model.predict. Runs where the onnx2tf venv is installed
(scripts/setup-onnx2tf.sh); skips with the hint otherwise.

One Graph model per dtype holds every case (one input of token ids behind
Embedding(mask_zero), one of floats without a mask, an output per cell and
return_sequences), converted in one process (TensorFlow is imported once): a small
model converts in 20-40 s; these two took 6-24 minutes on a busy 2-core machine."""
import numpy as np
import pytest

import reference
from rnn2onnx import structure, tflite
from rnn2onnx.exporter import build
from rnn2onnx.validation import TOLERANCE, compare, port_inputs

pytestmark = [pytest.mark.skipif(not tflite.available(), reason=tflite.install_hint()),
              pytest.mark.slow]  # two conversions of 28 recurrent layers each

CELLS = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")
# rows of the token-id batch: the mask kinds, in the order the report names them
ROWS = ("none", "left", "right", "holes", "all-masked", "masked-last")
KEEP = np.array([[1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0], [1, 0, 1, 1, 0, 0, 1],
                 [0, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 1, 1, 0]], bool)


def every_cell(dtype, seed=0):
    """A Graph: tok -> Embedding(mask_zero) -> each cell (masked), x -> each cell (unmasked)."""
    g = reference.Graph(dtype=dtype, seed=seed)
    g.add_input("tok", (None,), dtype="int")
    g.add_input("x", (None, 4))
    g.add_node(reference.Embedding(9, 4, mask_zero=True), "emb", input="tok")
    for cell in CELLS:
        for source in ("emb", "x"):
            for rs in (False, True):
                name = f"{cell}_{'masked' if source == 'emb' else 'plain'}_{'seq' if rs else 'last'}"
                g.add_node(getattr(reference, cell)(5, return_sequences=rs), name, input=source)
                g.add_output(f"out_{name}", input=name)
    rng = np.random.default_rng(seed + 100)  # biases too, so zero inputs give nonzero pre-activations
    g.set_weights([rng.normal(0.0, 0.6, w.shape) for w in g.get_weights()])
    return g


def inputs(model, dtype):
    rng = np.random.default_rng(1)
    ports = {p.name: p for p in structure.model_inputs(model)}
    return {"tok": port_inputs(ports["tok"], KEEP, rng, dtype), "x": port_inputs(ports["x"], KEEP, rng, dtype)}


def test_every_cell_mask_kind_and_dtype_through_tflite():
    """float32 (native ops for the unmasked LSTM, GRU, JZS1, JZS2, SimpleRNN) and float64
    (every layer unrolled; TensorFlow Lite computes it in float64)."""
    cases = []
    for dtype in ("float32", "float64"):
        model = every_cell(dtype)
        X = inputs(model, dtype)
        proto, forms = build(model, strategy="unrolled", fixed_shape=KEEP.shape)
        assert {form for key, (form, _) in forms.items() if "_masked_" in key} == {"unrolled"}
        cases.append((dtype, model, X, proto, forms))
    results = tflite.convert_and_run([(proto, structure.feeds(model, X)) for _, model, X, proto, _ in cases])
    failures = []
    for (dtype, model, X, _, forms), result in zip(cases, results):
        assert not isinstance(result, str), (dtype, result)
        expected = structure.predict_outputs(model, X)
        for port, e, a in zip(structure.model_outputs(model), expected, result):
            assert a.dtype == np.dtype(dtype), (port.name, a.dtype)
            for row, kind in enumerate(ROWS):
                error = compare(e[row], a[row], port.name, dtype).max_rel_error
                if not error <= TOLERANCE[dtype]:
                    failures.append(f"{dtype} {port.name} ({forms[port.name[4:]][0]}), {kind} row: {error:.1e}")
    assert not failures, failures
