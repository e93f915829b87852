"""atomic_write: the file appears whole or not at all, with a new file's permissions."""
import os
import stat

import pytest

from reference.files import atomic_write


def expected_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_writes_with_the_permissions_of_a_new_file(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write(path, lambda tmp: open(tmp, "w").write("hello"))
    assert path.read_text() == "hello"
    assert stat.S_IMODE(os.stat(path).st_mode) == expected_mode()
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def fail(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_saved_weights_and_converted_models_get_those_permissions(tmp_path):
    import rnn2onnx
    from reference import LSTM, Sequential

    model = Sequential()
    model.add(LSTM(3, input_dim=2))
    model.save_weights(str(tmp_path / "w.h5"))
    rnn2onnx.export(model, str(tmp_path / "m.onnx"))
    for name in ("w.h5", "m.onnx"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected_mode(), name
