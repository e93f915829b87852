"""`rnn2onnx convert`, run in process on files written by Keras releases 0.1.3–0.3.3 with no
release named: the ONNX file computes that release's `predict` (onnxruntime against the
arrays Keras computed: 1e-9 relative in float64, 2e-5 in float32; the command validates
the file against the reference first), or, where the reference refuses the files, the
command fails with one sentence, writing nothing. `inspect` names the release and why."""
import io
import os

import numpy as np
import onnxruntime
import pytest

from rnn2onnx import cli

from ..reference.keras_files.test_release_fixtures import (CASES, TOLERANCE, _paths, expected_refusal,
                                                         relative_error)


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def onnx_predict(path, X):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0]
    X = X.astype(np.int64) if "int" in feed.type else X
    return session.run(None, {feed.name: X})[0]


@pytest.mark.parametrize("release,name,case", CASES, ids=[f"{r_}/{n}" for r_, n, _ in CASES])
def test_convert_reproduces_the_release_that_wrote_the_file(release, name, case, tmp_path):
    config, weights, data = _paths(release, case)
    target = tmp_path / "m.onnx"
    code, out, err = call("convert", config, weights, "-o", target)
    refusal = expected_refusal(name)
    if refusal is not None:
        assert code == 1 and err.startswith("rnn2onnx: error: ") and len(err.strip().splitlines()) == 1, err
        assert not os.listdir(tmp_path)
        return
    assert code == 0, err
    assert "\nKeras 0." in out  # the release line
    arrays = np.load(data)
    outputs = case["output_keys"] if case["keras_reload"]["ok"] else case["output_keys_original"]
    for x_key, y_key in zip(case["input_keys"], outputs):
        Y = onnx_predict(target, arrays[x_key])
        expected = arrays[y_key].astype(case["floatX"])
        assert Y.dtype == expected.dtype
        error = relative_error(Y, expected)
        assert error <= TOLERANCE[case["floatX"]], (name, y_key, error)


def test_inspect_names_the_release_and_what_loading_ignored():
    release, name, case = next(c for c in CASES if c[0] == "0.3.2" and c[1] == "emb_lstm_seq_f64")
    config, weights, _ = _paths(release, case)
    code, out, err = call("inspect", config, weights)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first == "Keras 0.3.2: config keys custom_name; without dropout"
    assert "keys without effect at inference: cache_enabled, custom_name, trainable" in out


def test_a_release_the_files_contradict_is_refused_on_the_command_line(tmp_path, capsys):
    release, name, case = next(c for c in CASES if c[0] == "0.3.2" and c[1] == "emb_lstm_seq_f64")
    config, weights, _ = _paths(release, case)
    code, out, err = call("convert", config, weights, "-o", tmp_path / "m.onnx", "--keras-version", "0.3.1")
    assert code == 1 and "not written by Keras 0.3.1" in err and "custom_name" in err, err
    code, _, _ = call("inspect", config, "--keras-version", "9.9")
    usage = capsys.readouterr().err  # argparse writes its usage errors to sys.stderr
    assert code == 2 and "invalid choice: '9.9'" in usage and "0.3.3" in usage
