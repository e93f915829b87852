"""Fuzzing the command line with mutated legacy files: whatever a config (JSON
or YAML) or an HDF5 weights file holds, `rnn2onnx` ends with exit 0 (and a validated
file) or exit 1 and one short sentence: never a traceback or an "unexpected" error, never
a changed input file, within a time and memory bound. A few dozen examples here; many
more under the slow marker, which draw afresh under HYPOTHESIS_PROFILE=explore (tests/conftest.py)."""
import copy
import hashlib
import json
import os
import tempfile
import time
import tracemalloc

import h5py
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rnn2onnx import cli

from ..conftest import explore
from ..fixtures.legacy import make_fixtures as mf
from .test_hostile import MAX_MESSAGE

QUICK, SLOW = 20, 500
TIME_LIMIT_S, MEMORY_LIMIT = 60.0, 512 << 20  # generous: CI machines are shared
COMMON = dict(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HOSTILE_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([0, -1, 1, 10**9, 6000]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["false", "true", "LSTM", "Sequential", "hard_sigmoid", "orthogonal", "x" * 100_000]),
    st.lists(st.integers(-3, 10), max_size=4), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
BASES = ("keras01", "every_recurrent", "masking_float", "first_recurrent_input_dim")


def _digest(paths):
    return {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths}


def _paths(value, prefix=()):
    """Every (path to a container, key) in a JSON-like value."""
    out = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        out.append(prefix + (key,))
        out += _paths(child, prefix + (key,))
    return out


@st.composite
def mutated_config(draw):
    base = draw(st.sampled_from(BASES))
    config = copy.deepcopy(mf.config(base))
    config = json.loads(json.dumps(config))  # tuples -> lists
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(config)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(HOSTILE_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["mask_zero", "stateful", "weights", "zzz", "return_sequences"]))] = \
                draw(HOSTILE_VALUES)
    kind = draw(st.sampled_from(["json", "yaml"]))
    text = json.dumps(config) if kind == "json" else yaml.safe_dump(config)
    if draw(st.booleans()):  # byte-level damage
        at = draw(st.integers(0, max(0, len(text) - 1)))
        text = text[:at] + draw(st.sampled_from(["", "\x00", "&a [*a, *a]", "!!python/object:os.system ", "{[", "\ufffd"])) \
            + text[at + draw(st.integers(0, 3)):]
    return base, kind, text


@st.composite
def mutated_weights(draw):
    base = draw(st.sampled_from(BASES[:2]))
    weights = [[np.array(w) for w in ws] for ws in mf.arrays(base)]
    k = draw(st.sampled_from([i for i, ws in enumerate(weights) if ws]))
    j = draw(st.integers(0, len(weights[k]) - 1))
    action = draw(st.sampled_from(["nan", "inf", "huge", "shape", "dtype", "drop", "nb_params", "truncate", "flip"]))
    return base, k, j, action, draw(st.integers(0, 2**31))


def _run(argv, inputs, out_path):
    before = _digest(inputs)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        import io
        out, err = io.StringIO(), io.StringIO()
        code = cli.main([str(a) for a in argv], out=out, err=err)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = err.getvalue()
    assert code in (0, 1), (code, err)
    assert "Traceback" not in out.getvalue() + err
    assert elapsed < TIME_LIMIT_S and peak < MEMORY_LIMIT, (elapsed, peak)
    assert _digest(inputs) == before, "an input file changed"
    if code == 1:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rnn2onnx: error: "), err
        assert len(lines[0]) < MAX_MESSAGE and "unexpected" not in lines[0], lines[0]
        assert out_path is None or not os.path.exists(out_path)
    elif out_path is not None:
        assert os.path.exists(out_path)
    return code


def check_config(case):
    base, kind, text = case
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, f"model.{kind}")
        with open(config, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(text)
        weights = os.path.join(tmp, "w.h5")
        mf.write_weights(weights, mf.arrays(base))
        _run(["inspect", config], [config], None)
        out = os.path.join(tmp, "m.onnx")
        _run(["convert", config, weights, "-o", out, "--n", "2"], [config, weights], out)


def check_weights(case):
    base, k, j, action, seed = case
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "model.json")
        with open(config, "w") as f:
            json.dump(mf.config(base), f)
        weights = os.path.join(tmp, "w.h5")
        arrays = [[np.array(w) for w in ws] for ws in mf.arrays(base)]
        w = arrays[k][j]
        if action in ("nan", "inf", "huge"):
            w.flat[rng.integers(w.size)] = {"nan": np.nan, "inf": -np.inf, "huge": 3e38}[action]
        elif action == "shape":
            arrays[k][j] = w.reshape(-1)[: max(1, w.size - 1)]
        elif action == "dtype":
            arrays[k][j] = w.astype(np.int32)
        elif action == "drop":
            arrays[k].pop(j)
        mf.write_weights(weights, arrays)
        if action == "nb_params":
            with h5py.File(weights, "a") as f:
                f[f"layer_{k}"].attrs["nb_params"] = int(rng.integers(-3, 40))
        elif action in ("truncate", "flip"):
            data = bytearray(open(weights, "rb").read())
            if action == "truncate":
                data = data[: int(rng.integers(0, len(data)))]
            else:
                for at in rng.integers(0, len(data), size=8):
                    data[at] ^= 0xFF
            open(weights, "wb").write(bytes(data))
        out = os.path.join(tmp, "m.onnx")
        _run(["convert", config, weights, "-o", out, "--n", "2"], [config, weights], out)
        _run(["inspect", config, weights], [config, weights], None)


def _rank1_input_shape():
    """Found by chance: a first recurrent layer with a rank-1 input_shape, no input_dim."""
    config = json.loads(json.dumps(mf.config("first_recurrent_input_dim")))
    del config["layers"][0]["input_dim"]
    config["layers"][0]["input_shape"] = [3]
    return "first_recurrent_input_dim", "json", json.dumps(config)


# every case a run ever found is kept here, whatever the seed draws
@settings(max_examples=QUICK, **COMMON)
@given(mutated_config())
@example(_rank1_input_shape())
def test_mutated_configs(case):
    check_config(case)


@settings(max_examples=QUICK, **COMMON)
@given(mutated_weights())
def test_mutated_weights(case):
    check_weights(case)


@pytest.mark.slow
@explore
@settings(max_examples=SLOW, **COMMON)
@given(mutated_config())
def test_mutated_configs_many(case):
    check_config(case)


@pytest.mark.slow
@explore
@settings(max_examples=SLOW, **COMMON)
@given(mutated_weights())
def test_mutated_weights_many(case):
    check_weights(case)
