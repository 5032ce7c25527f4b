"""Makes `python3 test_x.py` work with a python3 that lacks Debian's grpcio,
numpy, torch or cv2 (e.g. pyenv's first on PATH): such a run re-executes
itself with /usr/bin/python3. Import and call before the heavy imports."""

import os
import sys


def reexec_if_needed(caller_name, *modules):
    """When one of `modules` cannot be imported here and the caller (whose
    `__name__` is `caller_name`) runs as the main script, re-runs it with
    /usr/bin/python3; otherwise lets the ImportError through."""
    try:
        for module in modules:
            __import__(module)
    except ImportError:
        debian = "/usr/bin/python3"
        if (caller_name == "__main__" and os.path.exists(debian)
                and os.path.realpath(sys.executable) != os.path.realpath(debian)):
            os.execv(debian, [debian] + sys.argv)
        raise
