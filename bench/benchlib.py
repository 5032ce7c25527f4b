"""Helpers shared by the benchmark scripts in bench/ (stdlib only): paths,
logging, the binaries under test, JSON-printing subprocesses, /proc
readings and what a report says about the machine.

The scripts import it from their own folder (python3 puts a script's folder
first on sys.path, so `python3 bench/x.py` and `cd bench; python3 x.py`
both find it). How much of the CPU a run did not have: machine_use.py.
"""

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# server_harness.py, datapool_testlib.py (load_stubs), debian_python.py
TESTS_PY = REPO / "tests" / "python"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def use_test_helpers():
    """Puts tests/python first on sys.path (once), writing no __pycache__
    there, so that server_harness and datapool_testlib import."""
    sys.dont_write_bytecode = True
    if str(TESTS_PY) not in sys.path:
        sys.path.insert(0, str(TESTS_PY))


def binary(env_name, default, prog):
    """The executable named by env_name, else REPO/default; exits with a
    message prefixed by prog when it is not an executable file."""
    path = os.environ.get(env_name) or str(REPO / default)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit("%s: %s is not an executable file (set %s or build first)"
                 % (prog, path, env_name))
    return path


def run_json(cmd, what, fmt, env=None):
    """Runs cmd, exits on failure; returns the JSON object on the last line
    of its stdout and logs `fmt % (what, wall seconds)`."""
    t0 = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, text=True)
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d): %s\n%s" % (
            " ".join(map(str, cmd)), proc.returncode, proc.stderr[-4000:],
            proc.stdout[-2000:]))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    log(fmt % (what, time.perf_counter() - t0))
    return out


# -- /proc -------------------------------------------------------------------

def proc_cpu_s(pid):
    """utime + stime of a whole process, in seconds (from /proc/PID/stat;
    raises OSError when it is gone)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# -- the machine -------------------------------------------------------------

def _cpuinfo_line(prefix):
    """The first line of /proc/cpuinfo that starts with prefix, or None."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(prefix):
                    return line
    except OSError:
        pass
    return None


def cpu_model(fallback=None):
    """The CPU's model name; else fallback, or when that is None what
    platform.processor() says (or "unknown")."""
    line = _cpuinfo_line("model name")
    if line is not None:
        return line.split(":", 1)[1].strip()
    if fallback is not None:
        return fallback
    return platform.processor() or "unknown"


def cpu_flags(names):
    """Those of names that the CPU's flags list, comma-separated."""
    line = _cpuinfo_line("flags")
    if line is None:
        return ""
    flags = line.split()
    return ",".join(x for x in names if x in flags)


def mem_gib():
    """Physical memory in GiB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def git_rev():
    """The tree's short HEAD, "+dirty" when tracked files changed."""
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status",
                                "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "") if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
