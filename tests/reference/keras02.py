"""Reading the Keras 0.2.0 oracle fixtures (tests/fixtures/keras02; MANIFEST.json says
what each holds) for the tests of the layers around the recurrent ones."""
import json
import os

import numpy as np
import pytest

from reference import build, registry

FX = os.path.join(os.path.dirname(__file__), "..", "fixtures", "keras02")
MANIFEST = json.load(open(os.path.join(FX, "MANIFEST.json"), encoding="utf-8"))["fixtures"]
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}  # relative to max |Y|


def path(name):
    return os.path.join(FX, name)


def layer_names(name):
    """Every layer class a fixture's config names (Merge branches included)."""
    with open(path(MANIFEST[name]["files"]["config_json"]), encoding="utf-8") as f:
        config = json.load(f)
    names, todo = set(), [config]
    while todo:
        c = todo.pop()
        if isinstance(c, dict):
            if c.get("name") not in (None, "Sequential", "Merge"):
                names.add(c["name"])
            todo += [c.get("layers", [])]
        elif isinstance(c, list):
            todo += c
    return names - {"WeightRegularizer", "ActivityRegularizer", "MaxNorm", "UnitNorm", "NonNeg"}


def require_layers(name):
    """Skip (naming them) when a fixture needs layer classes this checkout lacks."""
    missing = sorted(layer_names(name) - set(registry.LAYERS))
    if missing:
        pytest.skip(f"{name} needs layer classes not in this checkout: {', '.join(missing)}")


def load(name, kind="json", weights=True, **kwargs):
    require_layers(name)
    files = MANIFEST[name]["files"]
    return build.load_model(path(files[f"config_{kind}"]), path(files["weights_h5"]) if weights else None, **kwargs)


def data(name):
    d = np.load(path(MANIFEST[name]["files"]["data_npz"]))
    return [d[k] for k in MANIFEST[name]["input_keys"]], d[MANIFEST[name]["output_keys"][0]]


def config_kinds(name):
    return [k[len("config_"):] for k in MANIFEST[name]["files"] if k.startswith("config_")]


def relative_error(got, want):
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / np.max(np.abs(want)))


def check_prediction(name):
    """Every config file of the fixture (JSON, YAML), loaded with the weights and no
    dtype, predicts Keras's Y; returns the worst relative error."""
    floatx = MANIFEST[name]["floatX"]
    (X,), Y = data(name)
    worst = 0.0
    for kind in config_kinds(name):
        model = load(name, kind)
        assert model.dtype == np.dtype(floatx), kind
        got = model.predict(X)
        assert got.shape == Y.shape
        err = relative_error(got, Y)
        assert err <= TOLERANCE[floatx], (kind, err)
        worst = max(worst, err)
    return worst


def steps(name):
    """(W0 list, [(X_k, Y_k, loss_k, W_k list)]) of a training-steps fixture."""
    d = np.load(path(MANIFEST[name]["steps_npz"]))
    count = MANIFEST[name]["nb_steps"]
    nw = len([k for k in d.files if k.startswith("W0_")])
    weights = [[d[f"W{k}_{j}"] for j in range(nw)] for k in range(count + 1)]
    return weights[0], [(d[f"X_{k}"], d[f"Y_{k}"], float(d["losses"][k - 1]), weights[k]) for k in range(1, count + 1)]


def check_written_back(name, model, tmp_path):
    """The loaded model writes Keras's config back (JSON, and again after a YAML round
    trip) and Keras's HDF5 layout, every dataset equal; a reload predicts the same."""
    import h5py

    with open(path(MANIFEST[name]["files"]["config_json"]), encoding="utf-8") as f:
        keras = json.load(f)
    assert json.loads(model.to_json()) == keras
    assert json.loads(build.model_from_yaml(model.to_yaml(), dtype=model.dtype).to_json()) == keras
    out = tmp_path / "w.h5"
    model.save_weights(out)
    with h5py.File(out, "r") as f, h5py.File(path(MANIFEST[name]["files"]["weights_h5"]), "r") as k:
        assert int(f.attrs["nb_layers"]) == int(k.attrs["nb_layers"])
        for g in k:
            assert int(f[g].attrs["nb_params"]) == int(k[g].attrs["nb_params"])
            for p in k[g]:
                assert f[g][p].dtype == k[g][p].dtype and np.array_equal(f[g][p][()], k[g][p][()])
    (X,), _ = data(name)
    reloaded = build.load_model(path(MANIFEST[name]["files"]["config_json"]), str(out))
    assert np.array_equal(reloaded.predict(X), model.predict(X))
