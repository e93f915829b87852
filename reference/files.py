"""Writing files atomically: a temporary file beside the target, renamed into place."""
import os
import tempfile


def atomic_write(path, write):
    """Run write(tmp_path) on a new temporary file beside `path`, then rename it into
    place; on any failure nothing is left behind and an existing `path` is untouched.
    The file gets the permissions a newly created one would (mkstemp's are 0600)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
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
