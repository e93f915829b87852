"""Models written by the original Keras 0.2.0 with the core, noise and advanced-activation
layers, exported for both targets and run on every installed runtime, against
Keras's own predictions (tests/fixtures/keras02); bad files of these layers get one
sentence naming the layer, and nothing is written."""
import json
import os

import numpy as np
import pytest

import rnn2onnx
from reference import build, models
from reference.keras_files import KerasFileError
from rnn2onnx import cli, runtimes

from ..reference import keras02
from ..reference.test_keras02_layers import FIXTURES

# relative to max |Y|: float64 files on runtimes computing float64, and float32 (files,
# or float64 files on a runtime that computes in float32: OpenVINO)
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def _cases():
    for name in FIXTURES:
        for target in ("onnxruntime", "portable"):
            for runtime in ["onnxruntime"] + (["openvino", "tract"] if target == "portable" else []):
                yield pytest.param(name, target, runtime, id=f"{name}-{target}-{runtime}")


@pytest.mark.parametrize("name, target, runtime", _cases())
def test_exports_reproduce_keras(name, target, runtime):
    if runtime not in runtimes.available():
        pytest.skip(f"{runtime} is not installed")
    model = keras02.load(name)
    (X,), Y = keras02.data(name)
    proto = rnn2onnx.export(model, target=target, validate=False)
    feed = X.astype(np.int64) if X.dtype.kind in "iu" else X
    (got,) = runtimes.load(runtime, proto)({"input": feed})
    floatx = keras02.MANIFEST[name]["floatX"]
    computes = floatx if runtimes.get(runtime).computes_float64 else "float32"
    assert got.shape == Y.shape
    assert keras02.relative_error(got, Y) <= TOLERANCE[computes]


def _edited(name, index, tmp_path, **changes):
    """The fixture's JSON config with layer `index`'s config changed, written to tmp_path."""
    with open(keras02.path(f"{name}.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["layers"][index].update(changes)
    path = tmp_path / f"{name}-bad.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name, index, changes, message", [
    ("reshape_permute", 4, {"dims": [4, 3]},
     "layer 4 (Reshape): layer reshape_1: Reshape cannot turn per-sample shape (8,) (8 values) into (4, 3) (12 values)"),
    ("reshape_permute", 1, {"dims": [1, 3]}, "layer 1 (Permute): layer permute_1: Permute dims (1, 3) are not a "
                                             "permutation of the axes 1..2 of its per-sample input shape (6, 4)"),
    ("gru_flatten", 0, {"input_shape": [None, 3]}, "layer 1 (Flatten): layer flatten_1: Flatten needs the "
                                                   "per-sample shape, got (None, 4) (a sequence of unknown length)"),
    ("tdmerge_sum", 1, {"mode": "mul"}, "layer 1 (TimeDistributedMerge): TimeDistributedMerge: mode 'mul' is "
                                        "refused: Keras 0.2.0 could not build it"),
    ("tdmerge_sum", 1, {"mode": "max"}, "unknown mode 'max'; accepted: sum, ave"),
])
def test_bad_files_get_one_sentence_naming_the_layer_and_nothing_is_written(name, index, changes, message, tmp_path,
                                                                             capsys):
    config = _edited(name, index, tmp_path, **changes)
    with pytest.raises(KerasFileError) as info:
        build.load_model(config, keras02.path(f"{name}.h5"))
    assert message in str(info.value) and "\n" not in str(info.value)
    out = tmp_path / "out.onnx"
    assert cli.main(["convert", config, keras02.path(f"{name}.h5"), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnn2onnx: error: ") and message in err and len(err.splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(config)]
