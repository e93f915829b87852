"""Models written by the original Keras 0.2.0 with the layers around recurrent layers
(issue 10), exported and run on every installed runtime, against Keras's own
predictions (tests/fixtures/keras02)."""
import numpy as np
import pytest

import rnn2onnx
from rnn2onnx import runtimes

from ..reference.test_keras02_layers import FIXTURES, MANIFEST, data, load, needs, rel_error

# relative to max |Y|: the export's tolerance, and Keras's own float32 rounding on top
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def _cases():
    for name in sorted(FIXTURES):
        for target in ("onnxruntime", "portable"):
            for runtime in ["onnxruntime"] + (["openvino", "tract"] if target == "portable" else []):
                yield pytest.param(name, target, runtime, id=f"{name}-{target}-{runtime}")


@pytest.mark.parametrize("name, target, runtime", _cases())
def test_exports_reproduce_keras(name, target, runtime):
    needs(name)
    if runtime not in runtimes.available():
        pytest.skip(f"{runtime} is not installed")
    model = load(name)
    X, Y = data(name)
    proto = rnn2onnx.export(model, target=target, validate=False)
    feed = X.astype(np.int64) if X.dtype.kind in "iu" else X
    (got,) = runtimes.load(runtime, proto)({"input": feed})
    floatx = MANIFEST[name]["floatX"]
    computes = floatx if runtimes.get(runtime).computes_float64 else "float32"
    assert got.shape == Y.shape
    assert rel_error(got, Y) <= TOLERANCE[computes]
