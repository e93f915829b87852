"""The layers around recurrent layers (issue 10) against models, files and predictions
written by the original Keras 0.2.0 (tests/fixtures/keras02): load the config (JSON,
YAML block and flow style) and the HDF5 weights, predict, compare with Keras's own
output; write the files again in 0.2.0's layout (empty groups of weightless layers)."""
import json
import os

import h5py
import numpy as np
import pytest

import reference as r
from reference import legacy, registry

FX = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras02")
MANIFEST = json.load(open(os.path.join(FX, "MANIFEST.json")))["fixtures"]
#: fixtures whose layers are all in the reference: name -> the issue-10 layer classes they need
FIXTURES = {
    "addition_rnn_f64": ("RepeatVector",),
    "addition_rnn_f32": ("RepeatVector",),
}
TOLERANCE = {"float64": 1e-12, "float32": 1e-6}  # relative to max |Y| (float32: Keras's own rounding)


def needs(name):
    """Skip only when a layer class the fixture needs is not registered (yet)."""
    missing = [cls for cls in FIXTURES[name] if cls not in registry.LAYERS]
    if missing:
        pytest.skip(f"{name} needs {', '.join(missing)}, not registered on this branch")


def config_kinds(name):
    return [k[len("config_"):] for k in MANIFEST[name]["files"] if k.startswith("config_")]


def load(name, kind="json", **kwargs):
    return legacy.load_model(os.path.join(FX, MANIFEST[name]["files"][f"config_{kind}"]),
                             os.path.join(FX, f"{name}.h5"), **kwargs)


def data(name):
    arrays = np.load(os.path.join(FX, f"{name}.npz"))
    return arrays["X"], arrays["Y"]


def rel_error(got, want):
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / np.max(np.abs(want)))


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_predictions_reproduce_keras(name):
    needs(name)
    floatx = MANIFEST[name]["floatX"]
    X, Y = data(name)
    for kind in config_kinds(name):
        model = load(name, kind)  # no dtype: the weights file's, Keras's floatX
        assert model.dtype == np.dtype(floatx)
        assert [type(l).__name__ for l in model.layers] == MANIFEST[name]["layers"]
        got = model.predict(X)
        assert got.dtype == np.dtype(floatx) and got.shape == Y.shape
        assert rel_error(got, Y) <= TOLERANCE[floatx], kind


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_files_written_again_are_keras_files(tmp_path, name):
    """Our config is Keras's (same layers, same keys and values), our HDF5 file has
    Keras's groups (an empty one per weightless layer), and both load back exactly."""
    needs(name)
    model = load(name)
    keras = json.load(open(os.path.join(FX, f"{name}.json")))
    ours = json.loads(model.to_json())
    for mine, theirs in zip(ours["layers"], keras["layers"]):
        assert mine == theirs
    path = str(tmp_path / "w.h5")
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        layout = [{"group": f"layer_{k}", "nb_params": int(f[f"layer_{k}"].attrs["nb_params"]),
                   "params": [f"{f[f'layer_{k}/param_{j}'].dtype}[{','.join(map(str, f[f'layer_{k}/param_{j}'].shape))}]"
                              for j in range(int(f[f"layer_{k}"].attrs["nb_params"]))]}
                  for k in range(int(f.attrs["nb_layers"]))]
        assert all(len(f[g["group"]]) == g["nb_params"] for g in layout)
    assert layout == MANIFEST[name]["weights_layout"]["groups"]
    X, Y = data(name)
    for text, loader in ((model.to_json(), r.model_from_json), (model.to_yaml(), r.model_from_yaml),
                         (model.to_yaml(default_flow_style=False), r.model_from_yaml)):
        again = loader(text)
        again.load_weights(path)
        assert np.array_equal(again.predict(X), model.predict(X))
