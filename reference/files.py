"""Writing files atomically: a temporary file beside the target, renamed into place."""
import os
import tempfile

from .errors import ConfigError
from .untrusted import shorten


def atomic_write(path, write, inputs=()):
    """Run write(tmp_path) on a new temporary file beside `path`, then rename it into
    place; on any failure nothing is left behind and an existing `path` is untouched.
    The file gets the permissions a newly created one would (mkstemp's are 0600).
    `inputs`: files the output must not be (check_output_path)."""
    path = os.fspath(path)
    check_output_path(path, inputs)
    fd, tmp = temporary_beside(path, lambda d: tempfile.mkstemp(
        prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d))
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def temporary_beside(path, make):
    """make(folder of `path`), its failure reported against the folder the user named
    (not the hidden temporary name)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        return make(directory)
    except OSError as exc:
        raise OutputPathError(f"cannot write {shorten(path)}: folder {shorten(directory)} is not writable "
                              f"({exc.strerror or exc})") from None


class OutputPathError(ConfigError):
    """An output path that would overwrite an input, or that cannot be written."""


def check_output_path(path, inputs=()):
    """Refuse, before anything is written, an output `path` that is (or links to) one of
    `inputs` (or the `.data` file beside it would be), a directory, or in a folder that
    does not exist or cannot be written. Compares real paths and, for existing files,
    device and inode (os.path.samefile), so hard links, symlinks and ../ spellings all
    count as the same file."""
    path = os.fspath(path)
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise OutputPathError(f"cannot write {shorten(path)}: it is a directory")
    if not os.path.isdir(directory):
        raise OutputPathError(f"cannot write {shorten(path)}: folder {shorten(directory)} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {shorten(path)}: folder {shorten(directory)} is not writable")
    for candidate in (path, path + ".data"):
        for source in inputs:
            if source is None:
                continue
            source = os.fspath(source)
            same = os.path.realpath(candidate) == os.path.realpath(source)
            try:
                same = same or os.path.samefile(candidate, source)
            except OSError:  # one of them does not exist
                pass
            if same:
                raise OutputPathError(f"the output {shorten(path)} is the input file {shorten(source)}; "
                                      "choose another output path (inputs are never overwritten)")
