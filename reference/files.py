"""Paths a user names: inputs that must be regular files, outputs written atomically.

One policy for every reader and writer of the project:
- an input (config, weights, ONNX file) is read only if it is a regular file
  (`open_input`, `check_input`): a FIFO, device, socket or directory is refused at once,
  never opened for a blocking read;
- an output (`check_output_path`) is a regular file or a name that does not exist yet; a
  symbolic link is written through to its target, which the same rule judges (the link
  stays); nothing is ever written over an input; names the file system cannot hold are
  refused before any work, naming the user's path;
- a file is written into a temporary beside its target and renamed into place
  (`atomic_write`), so it appears whole or not at all.
"""
import errno
import os
import stat
import tempfile

from .errors import ConfigError
from .untrusted import shorten

#: how many characters of the target's name the hidden temporary beside it borrows, so a
#: name the file system accepts always leaves room for the temporary's
TEMPORARY_NAME_CHARS = 32


def atomic_write(path, write, inputs=()):
    """Run write(tmp_path) on a new temporary file beside `path`, then rename it into
    place; on any failure nothing is left behind and an existing `path` is untouched.
    The file gets the permissions a newly created one would (mkstemp's are 0600).
    `inputs`: files the output must not be (check_output_path)."""
    path = os.fspath(path)
    target = check_output_path(path, inputs)
    fd, tmp = temporary_beside(path, lambda d: tempfile.mkstemp(
        prefix="." + os.path.basename(target)[:TEMPORARY_NAME_CHARS] + ".", suffix=".tmp", dir=d), target)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        replace_output(tmp, target, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def temporary_beside(path, make, target=None):
    """make(folder of `target`, default `path`), its failure reported against the path and
    folder the user named (not the hidden temporary name)."""
    directory = os.path.dirname(os.path.abspath(target or path))
    try:
        return make(directory)
    except OSError as exc:
        raise OutputPathError(f"cannot write {shorten(path)}: folder {shorten(directory)} is not writable "
                              f"({exc.strerror or exc})") from None


def replace_output(tmp, target, path=None):
    """os.replace(tmp, target), after judging `target` once more (it may have become a
    device or a folder since check_output_path looked)."""
    _judge_existing(target, path or target)
    os.replace(tmp, target)


class OutputPathError(ConfigError):
    """An output path that would overwrite an input, or that cannot be written."""


class InputPathError(ConfigError):
    """An input path that does not name a readable regular file."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link"))


def kind_of(mode):
    """'a directory', 'a FIFO (named pipe)', … for a stat mode that is not a regular file."""
    return next((text for test, text in _KINDS if test(mode)), "not a regular file")


def _judge_existing(target, path):
    """Refuse an existing `target` (what `path` names) that is not a regular file."""
    try:
        mode = os.lstat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise OutputPathError(f"cannot write {shorten(path)}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode):
        return
    via = f"it links to {shorten(target)}, which is " if os.path.islink(path) else ""
    what = kind_of(mode)
    if stat.S_ISDIR(mode):
        raise OutputPathError(f"cannot write {shorten(path)}: {via or 'it is '}{what}")
    raise OutputPathError(f"cannot write {shorten(path)}: {via or 'it is '}{what}, not a regular file; "
                          "the output must be a regular file or a new name")


def _limit(directory, name, default):
    """os.pathconf of `directory`'s file system (of its nearest existing parent)."""
    while True:
        try:
            return os.pathconf(directory, name)
        except (OSError, ValueError):
            parent = os.path.dirname(directory)
            if parent == directory:
                return default
            directory = parent


def check_output_path(path, inputs=(), companions=()):
    """The path to write for the output `path`, or an OutputPathError, before anything is
    read or written. Refused: a path ending in a separator; an existing path that is not a
    regular file (a directory, device, FIFO, socket); a symbolic link whose target is not
    a regular file or a new name in an existing folder (a link to one is written through:
    the target is returned and the link stays); a folder that does not exist or cannot be
    written; a name longer than the file system's NAME_MAX or a path longer than its
    PATH_MAX; an output that is (or links to) one of `inputs`. Each of `companions` (file
    name suffixes such as ".data", written beside the output) must fit and be a regular
    file or new too. Real paths and, for existing files, device and inode are compared
    (os.path.samefile), so hard links, symlinks and ../ spellings count as the same file."""
    path = os.fspath(path)
    if not path:
        raise OutputPathError("the output path is empty")
    if path.endswith(os.sep) or (os.altsep and path.endswith(os.altsep)) \
            or os.path.basename(path) in (".", ".."):
        if os.path.isdir(path):
            raise OutputPathError(f"cannot write {shorten(path)}: it is a directory")
        raise OutputPathError(f"cannot write {shorten(path)}: a path ending in '{path[-1]}' names a folder, "
                              "not a file")
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    name_max, path_max = _limit(directory, "PC_NAME_MAX", 255), _limit(directory, "PC_PATH_MAX", 4096)
    for suffix in ("",) + tuple(companions):
        name = os.fsencode(os.path.basename(target) + suffix)
        if len(name) > name_max:
            raise OutputPathError(f"cannot write {shorten(path)}: the file name{' with ' + suffix if suffix else ''} "
                                  f"is {len(name)} bytes long, more than the {name_max} this file system allows")
        full = os.fsencode(target + suffix)
        if len(full) >= path_max:
            raise OutputPathError(f"cannot write {shorten(path)}: the full path is {len(full)} bytes long, "
                                  f"more than the {path_max - 1} this system allows")
    if not os.path.isdir(directory):
        raise OutputPathError(f"cannot write {shorten(path)}: folder {shorten(directory)} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {shorten(path)}: folder {shorten(directory)} is not writable")
    for suffix in ("",) + tuple(companions):
        _judge_existing(target + suffix, path + suffix)
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
    return target


def open_input(path, what):
    """`path` opened for reading in binary, if it is a regular file; else an
    InputPathError naming it as `what` ("config file", "weights file"). The file is opened
    without blocking and judged on the open descriptor, so a FIFO (or a device, socket,
    directory) is refused at once, even one swapped in after a check."""
    path = os.fspath(path)
    try:
        mode = os.stat(path).st_mode  # a device is not even opened
        if not stat.S_ISREG(mode):
            raise _not_regular(path, what, mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise _input_error(path, what, exc) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, what, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_input(path, what):
    """Refuse `path` unless it is a readable regular file (open_input's rule), for readers
    that open the file by name themselves (h5py, onnx)."""
    open_input(path, what).close()
    return os.fspath(path)


def _not_regular(path, what, mode):
    return InputPathError(f"cannot read {what} {shorten(path)}: it is {kind_of(mode)}, not a regular file")


def _input_error(path, what, exc):
    if exc.errno == errno.ENOENT:
        return InputPathError(f"cannot read {what} {shorten(path)}: it does not exist")
    if exc.errno == errno.ENAMETOOLONG:
        return InputPathError(f"cannot read {what} {shorten(path)}: the name is too long for this file system")
    return InputPathError(f"cannot read {what} {shorten(path)}: {exc.strerror or exc}")
