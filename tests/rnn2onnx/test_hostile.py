"""Hostile inputs: each item's original failure, reproduced and now answered by
exit 1 and one short sentence (or a correct result), inputs untouched, quickly."""
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import tracemalloc

import h5py
import numpy as np
import onnx
import pytest

import reference as r
import rnn2onnx
from reference import build, registry
from reference.keras_files import keras0
from reference.errors import InputError
from rnn2onnx import cli, runtimes

from ..fixtures.legacy import make_fixtures as mf
from .test_cli import ROOT, assert_clean_failure, export_module

# characters of the one error line; an unknown layer type's also lists every registered
# layer class (the registry's names, not the input's: bounded by the registry)
MAX_MESSAGE = 400 + len(registry.accepted_names())


def digest(*paths):
    return [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths]


@pytest.fixture
def call(capsys):
    def run(*argv, limit_s=30.0, limit_mb=512):
        """cli.main in-process, within `limit_s` seconds and `limit_mb` MB of Python
        allocations at peak (imports included)."""
        tracemalloc.start()
        start = time.perf_counter()
        try:
            code = cli.main([str(a) for a in argv])
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        captured = capsys.readouterr()
        assert elapsed < limit_s, f"took {elapsed:.1f} s"
        assert peak < limit_mb << 20, f"peak {peak >> 20} MB"
        if code == 1:
            assert len(captured.err) < MAX_MESSAGE, captured.err[:MAX_MESSAGE]
        return code, captured.out, captured.err
    return run


def write_config(tmp_path, config, name="model.json"):
    path = tmp_path / name
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return path


def lstm_config(**lstm):
    return {"name": "Sequential", "layers": [
        {"name": "Embedding", "input_dim": 10, "output_dim": 3, "mask_zero": True},
        dict({"name": "LSTM", "output_dim": 4, "return_sequences": False}, **lstm)]}


# 1. YAML alias bomb ------------------------------------------------------------------------
def alias_bomb(levels, where="name"):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"name: Sequential\nlayers:\n- {{name: LSTM, output_dim: 2, input_dim: 3, {where}: *a{levels - 1}}}"
                 if where != "name" else f"name: Sequential\nlayers:\n- {{name: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["name", "output_dim", "input_shape", "activation"])
@pytest.mark.parametrize("levels", [7, 9])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path, call, where, levels):
    path = write_config(tmp_path, alias_bomb(levels, where), "bomb.yaml")
    assert len(path.read_text()) < 600
    # expanded, the 9-level bomb is gigabytes
    assert_clean_failure(*call("inspect", path, limit_mb=256), "aliases expand")


def test_a_few_aliases_still_load(tmp_path):
    text = ("name: Sequential\nlayers:\n- {name: Dropout, p: 0.0, input_shape: &s [null, 3]}\n"
            "- {name: GRU, output_dim: 2, input_shape: *s}\n")
    assert build.model_from_yaml(text, keras_version="0.2.0").input_shape == (None, 3)


# 2. -o equal to an input -------------------------------------------------------------------
def test_output_that_is_an_input_is_refused_before_anything_is_written(fx, tmp_path, call):
    j, h = shutil.copy(os.path.join(fx, "keras01.json"), tmp_path), shutil.copy(os.path.join(fx, "keras01.h5"), tmp_path)
    os.symlink(j, tmp_path / "link.json")
    os.link(h, tmp_path / "hard.h5")
    before = digest(j, h)
    for output in (j, h, tmp_path / "link.json", tmp_path / "hard.h5", f"{tmp_path}/../{tmp_path.name}/keras01.json"):
        assert_clean_failure(*call("convert", j, h, "-o", output), "is the input file")
    assert digest(j, h) == before
    assert sorted(os.listdir(tmp_path)) == sorted(["keras01.json", "keras01.h5", "link.json", "hard.h5"])


def test_output_whose_data_file_would_be_an_input_is_refused(fx, tmp_path):
    from reference.files import OutputPathError, check_output_path

    data = tmp_path / "m.onnx.data"
    data.write_bytes(b"weights")
    with pytest.raises(OutputPathError, match="is the input file"):
        check_output_path(tmp_path / "m.onnx", [data])


def test_an_output_that_is_not_a_regular_file_or_cannot_be_named_is_refused_before_loading(fx, tmp_path, call,
                                                                                        monkeypatch):
    from reference.files import check_output_path

    os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "null", tmp_path / "stdout")
    monkeypatch.setattr(build, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    for output, fragment in (("null", "it is a character device, not a regular file"),
                             ("fifo", "it is a FIFO (named pipe), not a regular file"),
                             ("stdout", "it links to"),
                             ("newdir/", "names a folder"),
                             ("m" * 300 + ".onnx", "305 bytes long, more than the 255")):
        code, out, err = call("convert", j, h, "-o", f"{tmp_path}/{output}")
        assert_clean_failure(code, out, err, fragment)
        assert ".tmp" not in err and ".rnn2onnx-" not in err
    assert stat.S_ISCHR(os.lstat(tmp_path / "null").st_mode) and stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert os.path.islink(tmp_path / "stdout") and sorted(os.listdir(tmp_path)) == ["fifo", "null", "stdout"]
    model = r.Sequential()  # the API: refused before the graph is built
    model.add(r.GRU(2, input_dim=3))
    monkeypatch.setattr(export_module, "build", lambda *a, **k: pytest.fail("the model was exported"))
    with pytest.raises(r.ConfigError, match="not a regular file"):
        rnn2onnx.export(model, tmp_path / "null")
    assert check_output_path(tmp_path / "new.onnx") == str(tmp_path / "new.onnx")


@pytest.mark.parametrize("role", ["config", "weights"])
def test_a_fifo_given_as_an_input_is_refused_without_blocking(fx, tmp_path, call, role):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    # a reader that blocked (the defect) is let go on after 20 s, to fail below: a writer in
    # another process (h5py holds the GIL while it opens) opens and closes the FIFO, again
    # and again, each time giving a waiting reader an end of file
    writer = subprocess.Popen(["bash", "-c", f"sleep 20; while :; do : > '{fifo}'; sleep 0.2; done"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    argv = ("inspect", fifo, h) if role == "config" else ("convert", j, fifo, "-o", tmp_path / "m.onnx")
    try:
        code, out, err = call(*argv)
    finally:
        writer.kill()
        writer.wait()
    assert_clean_failure(code, out, err, f"cannot read {role} file {fifo}: it is a FIFO (named pipe)")
    assert sorted(os.listdir(tmp_path)) == ["fifo"]


# 3. non-finite weights ---------------------------------------------------------------------
@pytest.mark.parametrize("value,kind", [(np.nan, "NaN"), (np.inf, "inf")])
def test_convert_refuses_non_finite_weights_naming_layer_and_parameter(fx, tmp_path, call, value, kind):
    weights = mf.arrays("keras01")
    weights[1][0] = weights[1][0].copy()
    weights[1][0][0, 0] = value
    h = str(tmp_path / "w.h5")
    mf.write_weights(h, weights)
    code, out, err = call("convert", os.path.join(fx, "keras01.json"), h, "-o", tmp_path / "m.onnx")
    assert_clean_failure(code, out, err, "layer 1 (GRU gru_1): weight 0 (W_z)", kind)
    assert "RuntimeWarning" not in err and not (tmp_path / "m.onnx").exists()


def test_validation_of_a_model_computing_nan_fails():
    model = r.Sequential()
    model.add(r.LSTM(3, input_dim=2))
    weights = model.get_weights()
    weights[0] = np.full_like(weights[0], np.nan)
    with pytest.warns(RuntimeWarning, match="NaN or inf"):  # the Python API allows it, with a warning
        model.set_weights(weights)
    proto = rnn2onnx.export(model, validate=False)
    report = rnn2onnx.validate(model, proto, raise_on_failure=False)
    assert not report.passed and report.outputs[0].max_rel_error == float("inf")
    with pytest.raises(rnn2onnx.ValidationError):
        rnn2onnx.export(model)


# 5. sizes before checks -------------------------------------------------------------------
def test_inspect_allocates_no_weights(tmp_path, call):
    config = {"name": "Sequential", "layers": [{"name": "Embedding", "input_dim": 10_000_000, "output_dim": 64},
                                               {"name": "LSTM", "output_dim": 8}]}
    # the embedding alone would be 2.56 GB
    code, out, err = call("inspect", write_config(tmp_path, config), limit_mb=256)
    assert code == 0, err
    assert "640000000" in out.replace(",", "") or "640002" in out  # the parameter count is reported


def test_inspect_computes_no_onnx_weights(tmp_path, call):
    # the plan once emitted every node: the native LSTM's concatenated, transposed weights
    # took 576 MB for this config (645 MB resident for `inspect`)
    config = {"name": "Sequential", "layers": [{"name": "LSTM", "output_dim": 6000, "input_dim": 16}]}
    code, out, err = call("inspect", write_config(tmp_path, config), limit_mb=32)
    assert code == 0, err
    assert "native" in out


def test_oversized_weights_are_refused_by_a_sentence(tmp_path, call):
    config = {"name": "Sequential", "layers": [{"name": "Embedding", "input_dim": 100_000_000, "output_dim": 64}]}
    assert_clean_failure(*call("inspect", write_config(tmp_path, config), ), "layer 0", "E", "accepted")


def test_convert_checks_weight_shapes_before_initialising(fx, tmp_path, call):
    config = {"name": "Sequential", "layers": [{"name": "GRU", "output_dim": 6000, "input_dim": 3}]}
    # an orthogonal initialisation of 6000 x 6000 matrices takes minutes: never started
    code, out, err = call("convert", write_config(tmp_path, config), os.path.join(fx, "keras01.h5"),
                          "-o", tmp_path / "m.onnx", "--keras-version", "0.2.0")
    assert_clean_failure(code, out, err, "weights for 3 layers")


def test_load_model_with_weights_initialises_nothing(fx, monkeypatch):
    from reference import initializations

    def refuse(*args):
        raise AssertionError("an initializer ran although the weights are loaded")
    monkeypatch.setattr(initializations, "get", lambda name: refuse)
    model = build.load_model(os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"))
    np.testing.assert_array_equal(model.get_weights()[0], mf.arrays("keras01")[0][0].astype(np.float32))


# 6. long or odd values ---------------------------------------------------------------------
def test_a_five_million_character_name_is_quoted_briefly(tmp_path, call):
    config = lstm_config()
    config["layers"][1]["name"] = "L" * 5_000_000
    code, out, err = call("inspect", write_config(tmp_path, config))
    assert_clean_failure(code, out, err, "unknown layer type 'LLLL", "…")


@pytest.mark.parametrize("value", [["LSTM"], {"LSTM": 1}, 3, None])
def test_a_layer_type_that_is_not_a_string(tmp_path, call, value):
    config = lstm_config()
    config["layers"][1]["name"] = value
    assert_clean_failure(*call("inspect", write_config(tmp_path, config)), "layer 1", "must be a string")


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_deep_nesting_gets_a_sentence(tmp_path, call, kind):
    depth = 200_000
    text = "[" * depth + "]" * depth
    code, out, err = call("inspect", write_config(tmp_path, text, f"deep.{kind}"))
    assert_clean_failure(code, out, err, "nest")


def test_validate_refuses_an_onnx_file_of_another_model(fx, tmp_path, call):
    other = r.Sequential()
    other.add(r.GRU(2, input_dim=3))
    path = str(tmp_path / "other.onnx")
    rnn2onnx.export(other, path)
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    assert_clean_failure(*call("validate", path, j, h), "input", "INT64")
    f64 = r.Sequential(dtype="float64")
    f64.add(r.Embedding(10, 3))
    f64.add(r.GRU(4))
    rnn2onnx.export(f64, str(tmp_path / "f64.onnx"), validate=False)
    assert_clean_failure(*call("validate", tmp_path / "f64.onnx", j, h, "--dtype", "float32"), "element type")
    from rnn2onnx.validation import InterfaceError

    with pytest.raises(InterfaceError, match="element type FLOAT, but the model.s is INT64"):  # the API too
        rnn2onnx.validate(f64, rnn2onnx.export(other, validate=False))


# 7. booleans ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key,value", [("mask_zero", "false"), ("mask_zero", 0), ("return_sequences", "true"),
                                       ("return_sequences", 1), ("go_backwards", "false")])
def test_booleans_must_be_booleans(tmp_path, call, key, value):
    config = lstm_config()
    config["layers"][0 if key == "mask_zero" else 1][key] = value
    layer = "layer 0 (Embedding)" if key == "mask_zero" else "layer 1 (LSTM)"
    assert_clean_failure(*call("inspect", write_config(tmp_path, config)), layer, key, "true or false")


def test_boolean_keys_come_from_the_constructors():
    assert {"mask_zero"} <= keras0.BOOLEAN_KEYS["Embedding"]
    assert {"return_sequences"} <= keras0.BOOLEAN_KEYS["LSTM"] and "mask_zero" not in keras0.BOOLEAN_KEYS["LSTM"]


# 8. negative token ids ----------------------------------------------------------------------
def test_negative_ids_wrap_as_in_keras_in_reference_and_export_alike():
    model = r.Sequential(seed=1)
    model.add(r.Embedding(5, 3, mask_zero=True))
    model.add(r.GRU(4, return_sequences=True))
    E = model.layers[0].params["E"]
    X = np.array([[1, -1, -5, 0, 4]])
    # numpy's E[X] (what Theano's W[X] did): -1 is row 4, -5 row 0 (but only id 0 is masked)
    same = np.array([[1, 4, 0, 0, 4]])
    Y = model.predict(X)
    np.testing.assert_array_equal(model.layers[0].forward(X), E[X])
    assert not np.allclose(Y, model.predict(same))  # -5 is not masked, 0 is
    proto = rnn2onnx.export(model)
    run = runtimes.load("onnxruntime", proto)
    np.testing.assert_allclose(run({"input": X.astype(np.int64)})[0], Y, rtol=1e-5, atol=1e-6)
    for bad in (5, -6):
        with pytest.raises(InputError, match=r"\[-5, 5\)"):
            model.predict(np.array([[1, bad]]))
        with pytest.raises(Exception, match="out of bounds|indices"):
            run({"input": np.array([[1, bad]], np.int64)})


# 9. smaller ----------------------------------------------------------------------------------
def test_unwritable_folder_is_named_not_the_temporary_file(fx, tmp_path, call, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(kwargs.get("dir", ""), ".model.onnx.x1y2.tmp"))
    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    monkeypatch.setattr(tempfile, "mkstemp", refused)
    out = tmp_path / "ro" / "m.onnx"
    out.parent.mkdir()
    code, _, err = call("convert", os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"), "-o", out)
    assert_clean_failure(code, "", err, f"folder {out.parent} is not writable")
    assert ".tmp" not in err
    model = build.load_model(os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"))
    with pytest.raises(r.ConfigError, match="is not writable"):
        model.save_weights(str(out.parent / "w.h5"))


def test_validate_given_a_directory(fx, tmp_path, call):
    assert_clean_failure(*call("validate", tmp_path, os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")),
                         "is a directory")


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, "8"])
def test_predict_batch_size(batch_size):
    model = r.Sequential()
    model.add(r.Dense(2, input_dim=3))
    with pytest.raises(InputError, match="batch_size must be a positive integer"):
        model.predict(np.zeros((4, 3)), batch_size=batch_size)


def test_piping_into_head_ends_quietly(fx):
    # unbuffered, so the reader is gone before the last lines are written
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
    cmd = (f"{sys.executable} -m rnn2onnx.cli inspect {os.path.join(fx, 'every_recurrent.json')} "
           f"{os.path.join(fx, 'every_recurrent.h5')} | head -c 10 > /dev/null; echo status ${{PIPESTATUS[0]}}")
    proc = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "status 0", proc.stdout + proc.stderr
    assert proc.stderr == ""


# signals and the standard streams ---------------------------------------------------------------
def _cli(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("RNN2ONNX_TRACEBACK", None)
    return subprocess.Popen([sys.executable, "-m", "rnn2onnx.cli", *map(str, args)], env=env, **kwargs)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_remove_the_staging_folder(fx, tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    # many validation samples: the staging folder lives for seconds
    proc = _cli("convert", os.path.join(fx, "every_recurrent.json"), os.path.join(fx, "every_recurrent.h5"),
                "-o", out / "m.onnx", "--n", "10000", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(6000):  # until the staging folder appears (or the process ends)
            if os.listdir(out) or proc.poll() is not None:
                break
            time.sleep(0.02)
        assert [name for name in os.listdir(out) if name.startswith(".rnn2onnx-")], os.listdir(out)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signum, (proc.returncode, stderr)
    assert stderr == f"rnn2onnx: stopped by {signal.Signals(signum).name}; nothing was written\n"
    assert os.listdir(out) == []


def test_a_signal_the_caller_ignores_stays_ignored(monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "_main", lambda argv, out, err: seen.update(
        {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}) or 0)
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup leaves it
    try:
        assert cli.main(["inspect"]) == 0
        assert seen[signal.SIGHUP] is signal.SIG_IGN and seen[signal.SIGTERM] is not signal.SIG_IGN
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("command, stdout", [("convert", "closed"), ("convert", "full"), ("inspect", "full")])
def test_exit_status_matches_the_disk_when_stdout_fails(fx, tmp_path, command, stdout):
    """convert's work is the file: written, exit 0, and stderr says the report was lost.
    inspect's work is what it prints: exit 1 with one sentence."""
    j, h = os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")
    argv = ("convert", j, h, "-o", tmp_path / "m.onnx") if command == "convert" else ("inspect", j, h)
    with open("/dev/full", "w") if stdout == "full" else open(os.devnull, "w") as sink:
        if stdout == "closed":
            proc = _cli(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                        preexec_fn=lambda: os.close(1))
        else:
            proc = _cli(*argv, stdout=sink, stderr=subprocess.PIPE, text=True)
        _, stderr = proc.communicate(timeout=300)
    why = "it is closed" if stdout == "closed" else "No space left on device"
    assert "Traceback" not in stderr
    if command == "convert":
        assert proc.returncode == 0 and (tmp_path / "m.onnx").is_file() and os.listdir(tmp_path) == ["m.onnx"]
        assert stderr == f"rnn2onnx: warning: the report could not be printed (stdout: {why}); the command succeeded\n"
    else:
        assert_clean_failure(proc.returncode, "", stderr, f"the summary could not be printed (stdout: {why})")


# names from files on the terminal -----------------------------------------------------------------
HOSTILE_NAME = "x\x1b]0;owned\x07\x1b[2J\nonnxruntime, float32, 8 samples: PASS\u202e"


def hostile_graph(name=HOSTILE_NAME, n_nodes=1):
    model = r.Graph()
    model.add_input("x1", input_shape=(5, 3))
    model.add_node(r.LSTM(2), name=name, input="x1")
    for i in range(1, n_nodes):
        model.add_node(r.Dense(2), name=f"d{i}", input=name)
    model.add_output("y", input=name)
    return model


def test_names_from_a_file_reach_the_terminal_escaped_and_bounded(tmp_path, call):
    model = hostile_graph()
    config = tmp_path / "g.json"
    config.write_text(model.to_json())
    code, out, err = call("inspect", config)
    assert code == 0, err
    assert "\x1b" not in out + err and "\x07" not in out and "\u202e" not in out
    assert "x\\x1b]0;owned\\x07\\x1b[2J\\nonnxruntime" in out  # shown, visibly
    assert not any(line.startswith("onnxruntime, float32") for line in out.splitlines())  # no forged line
    # a path in an error message: escaped as well
    code, out, err = call("inspect", tmp_path / "x\x1b[2J.json")
    assert_clean_failure(code, out, err, "x\\x1b[2J.json")


def test_a_long_name_widens_no_column_past_the_cap(tmp_path, call):
    from reference.untrusted import CELL_LIMIT

    config = tmp_path / "g.json"
    config.write_text(hostile_graph("n" * 200, n_nodes=300).to_json())
    code, out, err = call("inspect", config)
    assert code == 0, err
    assert max(len(line) for line in out.splitlines()) < 3 * CELL_LIMIT + 60
    # without the cap, each of the ~600 rows of the two tables was padded to the 200-character name
    rows = [line for line in out.splitlines() if line.startswith("d17 ")]
    assert len(rows) == 2 and all(len(row) < 2 * CELL_LIMIT + 40 for row in rows), rows


def test_a_graph_name_too_long_to_export_is_refused(tmp_path, call):
    from rnn2onnx.exporter import MAX_NAME_CHARS

    config = tmp_path / "g.json"
    config.write_text(hostile_graph("n" * 100_000).to_json())
    # a node name is written into every ONNX name it prefixes: a million characters made 156 MB
    code, out, err = call("inspect", config)
    assert_clean_failure(code, out, err, "node name 'nnnn", f"more than {MAX_NAME_CHARS} characters")
    assert out == ""  # refused before the summary is printed
    with pytest.raises(rnn2onnx.ExportError, match="not exported"):
        rnn2onnx.export(hostile_graph("n" * (MAX_NAME_CHARS + 1)), validate=False)
    model = hostile_graph("n" * 100_000)  # validate prints the names in its table: refused too
    model.save_weights(str(tmp_path / "w.h5"))
    rnn2onnx.export(hostile_graph(), str(tmp_path / "m.onnx"), validate=False)
    assert_clean_failure(*call("validate", tmp_path / "m.onnx", config, tmp_path / "w.h5"),
                         f"more than {MAX_NAME_CHARS} characters")
    assert rnn2onnx.export(hostile_graph("n" * MAX_NAME_CHARS), validate=False).ByteSize() < 100 * MAX_NAME_CHARS


def test_the_bad_input_page_quotes_the_sentences(fx, tmp_path, call, monkeypatch):
    """docs/bad-input.md quotes each refusal as the command prints it (paths as OUT, IN, …)."""
    page = open(os.path.join(ROOT, "docs", "bad-input.md")).read()
    monkeypatch.chdir(tmp_path)
    os.mknod("null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    os.mkfifo("fifo")
    os.symlink("null", "link.onnx")
    os.mkdir("dir")
    j, h = "keras01.json", "keras01.h5"
    for name in (j, h):
        shutil.copy(os.path.join(fx, name), name)
    (tmp_path / "g.json").write_text(hostile_graph("n" * 1000).to_json())
    cases = [("convert", j, h, "-o", output) for output in
             ("null", "fifo", "link.onnx", "dir", "newdir/", "m" * 300, "no/m.onnx", "keras01.h5")]
    cases += [("inspect", "missing.json"), ("inspect", "fifo"), ("convert", j, "fifo", "-o", "m.onnx"),
              ("validate", "dir", j, h), ("inspect", "g.json")]
    for argv in cases:
        code, out, err = call(*argv)
        assert code == 1, (argv, err)
        sentence = err.strip().removeprefix("rnn2onnx: error: ")
        sentence = re.sub(r"m{70,}…", "OUT", sentence)
        sentence = re.sub(r"\b\d{3,}\b(?= (bytes|characters) long)", "N", sentence)
        sentence = re.sub(r"'n+…", "'nnnn…", sentence)
        for path, name in ((f"{tmp_path}/null", "TARGET"), (f"{tmp_path}/no", "DIR"), ("newdir/", "OUT")):
            sentence = sentence.replace(path, name)
        if argv[0] == "convert" and argv[1:] != (j, "fifo", "-o", "m.onnx"):
            sentence = sentence.replace(f" {argv[-1]}:", " OUT:").replace(f"output {argv[-1]} ", "output OUT ")
        sentence = re.sub(r"(file) (missing\.json|fifo|dir|keras01\.h5)\b", r"\1 IN", sentence)
        assert sentence in page, (argv, sentence)


# 10. sizes a tiny config may ask for: one table of limits (reference.untrusted.LIMITS) --------
def seq(*layers):
    return {"name": "Sequential", "layers": list(layers)}


TIME_INPUT = {"input_shape": [None, 3]}
SIZE_BOMBS = {  # each config is a few hundred bytes; unbounded, each took gigabytes or minutes
    "pool_length": (seq(dict({"name": "MaxPooling1D", "pool_length": 2 ** 24}, **TIME_INPUT)), "window"),
    "stride": (seq(dict({"name": "MaxPooling1D", "stride": 2 ** 64}, **TIME_INPUT)), "window"),
    "filter_length": (seq(dict({"name": "Convolution1D", "nb_filter": 2, "filter_length": 2 ** 24}, **TIME_INPUT)),
                      "window"),
    "subsample_length": (seq(dict({"name": "Convolution1D", "nb_filter": 2, "filter_length": 2,
                                   "subsample_length": 2 ** 64}, **TIME_INPUT)), "window"),
    "n": (seq({"name": "Dense", "output_dim": 2, "input_dim": 3}, {"name": "RepeatVector", "n": 10 ** 8}),
          "timesteps"),
    "depth": (seq({"name": "SimpleDeepRNN", "output_dim": 2, "depth": 10 ** 7, "input_dim": 3}), "depth"),
    "input_length": (seq({"name": "LSTM", "output_dim": 2, "input_shape": [10 ** 7, 3]}), "timesteps"),
    "Embedding input_length": (seq({"name": "Embedding", "input_dim": 5, "output_dim": 2, "input_length": 10 ** 7},
                                   {"name": "GRU", "output_dim": 2}), "timesteps"),
    "layers": (seq(*[{"name": "Dense", "output_dim": 1, "input_dim": 1}] * 200_000), "layers"),
    "branches": (seq({"name": "Merge", "mode": "sum", "layers": [seq({"name": "Dense", "output_dim": 1,
                                                                       "input_dim": 1})] * 10_000}), "layers"),
    "branches of one Merge": (seq({"name": "Merge", "mode": "sum", "layers": [seq({"name": "Dense", "output_dim": 1,
                                                                                    "input_dim": 1})] * 300}),
                              "branches"),
    "values per sample": (seq({"name": "Dense", "output_dim": 2 ** 20, "input_dim": 3},
                              {"name": "RepeatVector", "n": 10_000}), "sample_values"),
    "Graph inputs": ({"name": "Graph", "input_config": [{"name": f"i{k}", "input_shape": [3]} for k in range(3000)],
                      "node_config": [], "output_config": [], "nodes": {}, "input_order": [], "output_order": []},
                     "layers"),
    "inputs of a Graph merge": ({"name": "Graph", "input_config": [{"name": "a", "input_shape": [3]}],
                                 "node_config": [{"name": "d", "inputs": ["a"] * 100_000, "merge_mode": "sum"}],
                                 "output_config": [{"name": "o", "input": "d"}],
                                 "nodes": {"d": {"name": "Dense", "output_dim": 2}},
                                 "input_order": ["a"], "output_order": ["o"]}, "branches"),
}


@pytest.mark.parametrize("case", SIZE_BOMBS)
def test_sizes_beyond_their_limit_are_refused_by_a_sentence(tmp_path, call, case):
    from reference.untrusted import LIMITS

    config, limit = SIZE_BOMBS[case]
    # hand-written: no key tells the release, so it is named
    code, out, err = call("inspect", write_config(tmp_path, config), "--keras-version", "0.2.0", limit_s=20,
                          limit_mb=256)
    assert_clean_failure(code, out, err, f"more than the {LIMITS[limit].value} accepted"
                         if limit != "layers" else f"more than {LIMITS[limit].value} layers")


def test_sizes_at_their_limit_are_accepted():
    from reference.untrusted import LIMITS

    model = build.model_from_json(json.dumps(seq(dict({"name": "MaxPooling1D", "pool_length": 4096,
                                                        "stride": 4096}, **TIME_INPUT))), keras_version="0.2.0")
    assert model.layers[0].pool_length == LIMITS["window"].value
    model = build.model_from_json(json.dumps(seq({"name": "Dense", "output_dim": 2, "input_dim": 3},
                                                  {"name": "RepeatVector", "n": LIMITS["timesteps"].value})),
                                  keras_version="0.2.0")
    assert model.output_shape == (LIMITS["timesteps"].value, 2)


def test_fresh_names_cost_linear_time_in_their_count():
    # a Merge of 10,000 branches named every node 'dense_1/MatMul', 'dense_1/MatMul_2', ...:
    # each new name probed every earlier one
    from rnn2onnx.graph import fresh_name

    class CountingSet(set):
        probes = 0

        def __contains__(self, item):
            CountingSet.probes += 1
            return super().__contains__(item)

    used, suffixes = CountingSet({"x_3"}), {}
    names = [fresh_name("x", used, suffixes) for _ in range(5000)]
    assert names[:4] == ["x", "x_2", "x_4", "x_5"] and len(set(names)) == 5000
    assert CountingSet.probes <= 2 * 5000 + 2


# 11. reads that followed a link, numbers Python refuses, shapes ONNX inference refuses -----
def test_an_external_link_as_the_first_parameter_is_refused_before_it_is_followed(tmp_path):
    # the config gives no input shape: the width is read from the first parameter's shape;
    # that read once followed the link, and a link to a FIFO hung convert for ever
    fifo = tmp_path / "fifo.h5"
    os.mkfifo(fifo)
    config = write_config(tmp_path, seq({"name": "Dense", "output_dim": 2}))
    weights = tmp_path / "w.h5"
    with h5py.File(weights, "w") as f:
        f.attrs["nb_layers"] = 1
        g = f.create_group("layer_0")
        g.attrs["nb_params"] = 2
        g["param_0"] = h5py.ExternalLink(str(fifo), "W")
        g.create_dataset("param_1", data=np.zeros(2, np.float32))
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "rnn2onnx.cli", "convert", str(config), str(weights),
                           "-o", str(tmp_path / "m.onnx")], env=env, capture_output=True, text=True, timeout=120)
    assert_clean_failure(proc.returncode, proc.stdout, proc.stderr, "param_0", "ExternalLink", "refused")


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_an_integer_of_thousands_of_digits_gets_a_sentence(tmp_path, call, kind):
    digits = "9" * 5001  # Python refuses int() of more than 4,300 digits with a ValueError
    text = (f'{{"name": "Sequential", "layers": [{{"name": "Dense", "input_dim": 3, "output_dim": {digits}}}]}}'
            if kind == "json" else f"name: Sequential\nlayers:\n- {{name: Dense, input_dim: 3, output_dim: {digits}}}\n")
    assert_clean_failure(*call("inspect", write_config(tmp_path, text, f"m.{kind}")), "5001 digits")


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
def test_a_recurrent_layer_given_a_rank_one_input_shape_is_refused_when_built(tmp_path, call, cell):
    # it used to pass the reference and fail in ONNX shape inference ("unexpected InferenceError")
    config = seq({"name": cell, "output_dim": 2, "input_shape": [3]})
    assert_clean_failure(*call("inspect", write_config(tmp_path, config), "--keras-version", "0.2.0"), "layer 0",
                         "(timesteps, features)")
    with pytest.raises(r.ConfigError, match=r"\(timesteps, features\), got input shape \(3,\)"):
        getattr(r, cell)(2, input_shape=(3,)).build((3,), "float32", np.random.default_rng(0))


def test_a_ragged_list_gets_an_input_error():
    model = r.Sequential()
    model.add(r.Embedding(5, 2, mask_zero=True))
    model.add(r.GRU(2))
    with pytest.raises(InputError, match="ragged list"):
        model.predict([[1, 2, 3], [1, 2]])
    with pytest.raises(InputError, match="ragged list"):
        rnn2onnx.validate(model, rnn2onnx.export(model), inputs=[[1, 2, 3], [1, 2]])


# 12. ONNX files from elsewhere: checked, then run in a worker with a time and memory limit -----
def _loop_file(path, trips, hidden):
    """input (int64 [N, T]) -> output (float [N, T]) through a Loop of `trips` steps: the
    interface of keras01's model. `hidden`: the trip count passes through an Identity,
    so no static check can read it."""
    from onnx import TensorProto, helper, numpy_helper

    info = helper.make_tensor_value_info
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"]), helper.make_node("Identity", ["x"], ["x_out"])],
                             "body", [info("i", TensorProto.INT64, []), info("c", TensorProto.BOOL, []),
                                      info("x", TensorProto.FLOAT, None)],
                             [info("c_out", TensorProto.BOOL, []), info("x_out", TensorProto.FLOAT, None)])
    const = lambda name, value: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(value)))
    nodes = [const("M0" if hidden else "M", np.int64(trips)), const("cond", True),
             helper.make_node("Cast", ["input"], ["x0"], to=TensorProto.FLOAT),
             helper.make_node("Loop", ["M", "cond", "x0"], ["output"], body=body)]
    if hidden:
        nodes.insert(1, helper.make_node("Identity", ["M0"], ["M"]))
    graph = helper.make_graph(nodes, "loop", [info("input", TensorProto.INT64, ["N", "T"])],
                              [info("output", TensorProto.FLOAT, ["N", "T"])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _nested_if_file(path, levels):
    from onnx import TensorProto, helper, numpy_helper

    info = helper.make_tensor_value_info
    leaf = helper.make_graph([helper.make_node("Identity", ["x0"], ["y0"])], "leaf", [], [info("y0", TensorProto.FLOAT, None)])
    inner = leaf
    for level in range(1, levels + 1):  # each level nests in its then-branch only: the file grows linearly
        node = helper.make_node("If", ["cond"], [f"y{level}"], then_branch=inner, else_branch=leaf)
        inner = helper.make_graph([node], f"level{level}", [], [info(f"y{level}", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Constant", [], ["cond"], value=numpy_helper.from_array(np.array(True))),
             helper.make_node("Cast", ["input"], ["x0"], to=TensorProto.FLOAT)] + list(inner.node)
    nodes.append(helper.make_node("Identity", [f"y{levels}"], ["output"]))
    graph = helper.make_graph(nodes, "ifs", [info("input", TensorProto.INT64, ["N", "T"])],
                              [info("output", TensorProto.FLOAT, ["N", "T"])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_an_untrusted_file_that_never_finishes_is_stopped_at_its_time_limit(fx, tmp_path):
    # 10**15 steps behind the model's interface: onnxruntime would be busy for days
    model = build.load_model(os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"))
    path = _loop_file(str(tmp_path / "loop.onnx"), 10 ** 15, hidden=True)
    with pytest.raises(runtimes.RuntimeTimeout, match=r"^onnxruntime did not finish within 1\.5 s \(stopped\)$"):
        rnn2onnx.validate(model, path, time_limit=1.5)


@pytest.mark.parametrize("kind,message", [("loop", "a Loop of 1000000000000000 steps, more than the 1000000"),
                                          ("ifs", "nests subgraphs more than 8 deep")])
def test_absurd_graphs_are_refused_before_they_run(fx, tmp_path, call, kind, message):
    # 30 nested Ifs double OpenVINO's compile time per level; a constant trip count is read
    path = (_loop_file(str(tmp_path / "m.onnx"), 10 ** 15, hidden=False) if kind == "loop"
            else _nested_if_file(str(tmp_path / "m.onnx"), 30))
    assert_clean_failure(*call("validate", path, os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5")),
                         message)


def test_files_as_deep_as_exports_run(fx, tmp_path):
    model = build.load_model(os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"))
    path = _nested_if_file(str(tmp_path / "m.onnx"), 6)
    report = rnn2onnx.validate(model, path, raise_on_failure=False)  # runs (and disagrees: it computes no GRU)
    assert report.outputs[0].max_rel_error > 1e-5


def test_a_runtime_that_cannot_load_a_file_says_why_in_one_sentence(fx, tmp_path, call):
    model = build.load_model(os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"))
    proto = rnn2onnx.export(model, validate=False)
    proto.ir_version = 999
    path = str(tmp_path / "ir999.onnx")
    onnx.save(proto, path)
    code, out, err = call("validate", path, os.path.join(fx, "keras01.json"), os.path.join(fx, "keras01.h5"))
    assert_clean_failure(code, out, err, "onnxruntime refused the model: Unsupported model IR version: 999")
    assert len(err) < 200 and ".cc" not in err and "::" not in err


def test_an_untrusted_run_has_a_memory_limit(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    # 2 GB of zeros, in a worker allowed 1 GB of data
    shape = numpy_helper.from_array(np.array([500_000_000], np.int64), "shape")
    graph = helper.make_graph([helper.make_node("ConstantOfShape", ["shape"], ["big"]),
                               helper.make_node("ReduceSum", ["big"], ["s"], keepdims=0),
                               helper.make_node("Add", ["x", "s"], ["y"])], "big",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])], [shape])
    path = str(tmp_path / "big.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises((runtimes.RuntimeRefused, runtimes.RuntimeCrashed), match="needed more than the 1024 MB"):
        run = runtimes.load_untrusted("onnxruntime", path, memory_limit=1 << 30)
        try:
            run({"x": np.zeros((), np.float32)})
        finally:
            run.close()
