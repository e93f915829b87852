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


# -- the output-path policy: a regular file or a new name, nothing else -----------------------
def special_file(tmp_path, kind):
    """A file of `kind` under tmp_path (never a system file: a regression replaces only this)."""
    import socket

    path = tmp_path / kind
    if kind == "device":
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()
    elif kind == "directory":
        path.mkdir()
    return path


SPECIAL = {"device": stat.S_ISCHR, "fifo": stat.S_ISFIFO, "socket": stat.S_ISSOCK, "directory": stat.S_ISDIR}


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("via_link", [False, True])
def test_an_output_that_is_not_a_regular_file_is_refused_and_kept(tmp_path, kind, via_link):
    from reference.files import OutputPathError

    path = special_file(tmp_path, kind)
    output = path
    if via_link:
        output = tmp_path / "link.onnx"
        os.symlink(path, output)
    with pytest.raises(OutputPathError, match="not a regular file" if kind != "directory" else "a directory"):
        atomic_write(output, lambda tmp: open(tmp, "w").write("model"))
    assert SPECIAL[kind](os.lstat(path).st_mode)  # still what it was
    assert not via_link or os.path.islink(output)
    assert sorted(os.listdir(tmp_path)) == sorted([kind] + (["link.onnx"] if via_link else []))


def test_a_link_to_a_regular_file_or_a_new_name_is_written_through(tmp_path):
    """The link stays a link; the file it names is what gets written (as a shell's > does)."""
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "m.onnx"
    target.write_text("old")
    os.symlink(target, tmp_path / "latest.onnx")
    atomic_write(tmp_path / "latest.onnx", lambda tmp: open(tmp, "w").write("new"))
    assert os.path.islink(tmp_path / "latest.onnx") and target.read_text() == "new"
    os.symlink(tmp_path / "models" / "next.onnx", tmp_path / "next.onnx")  # dangling: names a new file
    atomic_write(tmp_path / "next.onnx", lambda tmp: open(tmp, "w").write("next"))
    assert os.path.islink(tmp_path / "next.onnx") and (tmp_path / "models" / "next.onnx").read_text() == "next"
    assert sorted(os.listdir(tmp_path / "models")) == ["m.onnx", "next.onnx"]


def test_a_path_ending_in_a_separator_names_a_folder(tmp_path):
    from reference.files import OutputPathError

    for output in (f"{tmp_path}/newdir/", f"{tmp_path}/newdir/.", f"{tmp_path}/.."):
        with pytest.raises(OutputPathError, match="names a folder|is a directory"):
            atomic_write(output, lambda tmp: open(tmp, "w").write("model"))
    assert os.listdir(tmp_path) == []


def test_names_too_long_for_the_file_system_are_refused_before_writing(tmp_path):
    from reference.files import OutputPathError, check_output_path

    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    called = []
    with pytest.raises(OutputPathError, match=f"is {name_max + 1} bytes long, more than the {name_max}") as info:
        atomic_write(tmp_path / ("m" * (name_max + 1)), called.append)
    assert not called and ".tmp" not in str(info.value) and os.listdir(tmp_path) == []
    # the longest name the file system takes is written (its hidden temporary takes a shorter one)
    atomic_write(tmp_path / ("m" * name_max), lambda tmp: open(tmp, "w").write("model"))
    assert os.listdir(tmp_path) == ["m" * name_max]
    with pytest.raises(OutputPathError, match="file name with .data is"):  # a companion must fit too
        check_output_path(tmp_path / ("m" * name_max), companions=(".data",))
    fd = os.open(tmp_path, os.O_RDONLY)
    try:  # a folder deeper than PATH_MAX allows naming (made one level at a time)
        for _ in range(21):
            os.mkdir("d" * 200, dir_fd=fd)
            fd, parent = os.open("d" * 200, os.O_RDONLY, dir_fd=fd), fd
            os.close(parent)
    finally:
        os.close(fd)
    with pytest.raises(OutputPathError, match="the full path is .* bytes long, more than the 4095"):
        check_output_path(str(tmp_path) + ("/" + "d" * 200) * 21 + "/m.onnx")


# -- the input-path policy: a regular file, never a blocking open ---------------------------------
@pytest.mark.parametrize("kind", SPECIAL)
def test_an_input_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    from reference.files import InputPathError, open_input

    path = special_file(tmp_path, kind)
    with pytest.raises(InputPathError, match=f"cannot read weights file .*{kind}: it is a"):
        open_input(path, "weights file")
    with pytest.raises(InputPathError, match="it does not exist"):
        open_input(tmp_path / "missing.h5", "weights file")
    (tmp_path / "w.h5").write_bytes(b"weights")
    with open_input(tmp_path / "w.h5", "weights file") as f:
        assert f.read() == b"weights"
