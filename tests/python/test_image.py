"""The CPU image without Docker: the Dockerfile's build stage
(deploy/image-build.sh) run outside Docker, its staged files checked against
the runtime stage's package list, and the staged server run as the image
runs it.

What "as the image runs it" means here (no container engine on CI):
- the staged binaries (stripped copies, as the image has them);
- the runtime stage's ENV as the whole environment (paths to test folders);
- as the runtime stage's USER (uid/gid 10001), with no capabilities and
  no_new_privs (setpriv);
- in a private mount namespace where every mount but /proc, /sys and /dev is
  read-only (a read-only root filesystem), /tmp is a fresh tmpfs (the chart's
  emptyDir) and only the shared folder is writable; the input folder is
  read-only.
What it does not: the image's own root filesystem (this machine's is used,
with every build package installed), Docker's networking and signals through
a container runtime. The library check below is what ties the two: every
shared library the staged binaries load must come from a package the
runtime stage installs, or one apt brings with it.

Run: /usr/bin/python3 -m unittest tests/python/test_image.py (as root, with
DATAPOOL_SERVER_BIN set to a server built in a CMake build folder).
"""

import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_packages  # noqa: E402
from server_harness import RunningServer, server_binary  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKERFILE = os.path.join(REPO, "Dockerfile")
IMAGE_BUILD = os.path.join(REPO, "deploy", "image-build.sh")
SETUP = os.path.join(REPO, "scripts", "setup.sh")
TIMEOUT_S = 60


# -- Dockerfile ---------------------------------------------------------------
def parse_dockerfile(path):
    """[(stage_name, [(INSTRUCTION, text)])] in file order; continuation
    lines joined, comments dropped."""
    stages = []
    logical = ""
    lines = []
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                logical += line[:-1] + " "
                continue
            logical += line
            if logical.strip():
                lines.append(logical.strip())
            logical = ""
    for line in lines:
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.search(r"\bAS\s+(\S+)\s*$", rest, re.IGNORECASE)
            stages.append((m.group(1) if m else str(len(stages)), []))
            stages[-1][1].append((word, rest.strip()))
        elif stages:
            stages[-1][1].append((word, rest.strip()))
    return stages


def apt_install_packages(run_text):
    """The packages an `apt-get install ... --no-install-recommends` names in
    one RUN, up to the next `&&`."""
    m = re.search(r"apt-get install[^&]*?--no-install-recommends\s+([^&]+)",
                  run_text)
    if not m:
        return []
    return [w for w in m.group(1).split() if not w.startswith("-")]


def stage_env(instructions):
    env = {}
    for word, text in instructions:
        if word == "ENV":
            for item in shlex.split(text):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def first(instructions, name):
    for word, text in instructions:
        if word == name:
            return text
    return None


def bash_array(path, name):
    """The words of `NAME=( ... )` in a bash script (no expansions)."""
    with open(path) as f:
        text = f.read()
    # Comments first (they may hold parentheses), then the array.
    text = re.sub(r"(^|\s)#.*", "", text)
    m = re.search(r"^\s*%s=\(\s*(.*?)\)" % re.escape(name), text,
                  re.MULTILINE | re.DOTALL)
    if not m:
        raise AssertionError("no %s=( ... ) in %s" % (name, path))
    return m.group(1).split()


# -- small PNG writer (no numpy, no OpenCV) ------------------------------------
def write_png(path, width, height, pixel):
    """An 8-bit RGB PNG; pixel(x, y) -> (r, g, b)."""
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in pixel(x, y))
        for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                             0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows))
                + chunk(b"IEND", b""))


# The wrapper that turns this machine into the image's runtime conditions for
# the server (see the module docstring); execs so the server keeps the pid.
AS_IN_IMAGE = r"""
set -eu
shared=$1 uid=$2 gid=$3
shift 3
findmnt -rno TARGET | while read -r m; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/) continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
mount -o remount,bind,ro /
mount -t tmpfs -o mode=1777,size=64m datapool-tmp /tmp
mount --bind "$shared" "$shared"
mount -o remount,bind,rw "$shared"
exec setpriv --reuid "$uid" --regid "$gid" --clear-groups --no-new-privs \
  --bounding-set=-all --inh-caps=-all -- "$@"
"""


# Where the image has datapool-server's model library: ../lib/datapool/
# from the binary, where the server looks (server/app/model_library.h).
MODEL_LIBRARY = "usr/local/lib/datapool/libdatapool_torch_backend.so"


class ImageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.stages = parse_dockerfile(DOCKERFILE)
        cls.stage_map = dict(cls.stages)
        server = server_binary()
        cls.build_dir = os.path.dirname(os.path.abspath(server))
        if not os.path.isfile(os.path.join(cls.build_dir, "build.ninja")):
            raise AssertionError("DATAPOOL_SERVER_BIN=%s is not in a CMake "
                                 "build folder (no build.ninja beside it)"
                                 % server)
        # /var/tmp, not /tmp: the server's run hides /tmp under a tmpfs.
        cls.tmp = tempfile.mkdtemp(prefix="datapool-image-test-",
                                   dir="/var/tmp")
        os.chmod(cls.tmp, 0o755)
        cls.stage = os.path.join(cls.tmp, "stage")
        # The build stage's command, with CI's build folder (already built by
        # run-tests.sh, so its build step is a no-op).
        env = dict(os.environ, DATAPOOL_BUILD_DIR=cls.build_dir)
        proc = subprocess.run([IMAGE_BUILD, cls.stage], env=env,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("deploy/image-build.sh failed (%d)\n%s\n%s"
                                 % (proc.returncode, proc.stdout,
                                    proc.stderr[-10000:]))
        cls.bin = os.path.join(cls.stage, "usr", "local", "bin")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cpu(self):
        return self.stage_map["cpu"]

    def runtime_packages(self, stage="cpu"):
        for word, text in self.stage_map[stage]:
            if word == "RUN" and "apt-get install" in text:
                return apt_install_packages(text)
        self.fail("no apt-get install in the %s stage" % stage)

    # -- the Dockerfile's shape -------------------------------------------------
    def test_dockerfile_stages(self):
        names = [name for name, _ in self.stages]
        self.assertEqual(names, ["cuda-base", "gpu-build", "gpu", "build",
                                 "cpu"])
        build = self.stage_map["build"]
        run = " ".join(t for w, t in build if w == "RUN")
        self.assertIn("./deploy/image-build.sh /stage", run)
        gpu_run = " ".join(t for w, t in self.stage_map["gpu-build"]
                           if w == "RUN")
        self.assertIn("./deploy/image-build.sh --gpu /stage", gpu_run)
        self.assertIn("FAISS_ENABLE_GPU=ON", gpu_run)
        self.assertIn("LIBTORCH_URL", gpu_run)
        with open(IMAGE_BUILD) as f:
            self.assertIn("-DDATAPOOL_CUDA=ON", f.read())
        for stage, source in (("cpu", "build"), ("gpu", "gpu-build")):
            instructions = self.stage_map[stage]
            copies = [t for w, t in instructions if w == "COPY"]
            self.assertIn("--from=%s /stage/ /" % source, copies)
            self.assertEqual(first(instructions, "USER"), "10001:10001")
            self.assertEqual(json.loads(first(instructions, "ENTRYPOINT")),
                             ["datapool-server"])
            self.assertEqual(json.loads(first(instructions, "VOLUME")),
                             ["/data/shared", "/data/input"])
            self.assertEqual(first(instructions, "EXPOSE").split(),
                             ["50051", "9464"])
            env = stage_env(instructions)
            self.assertEqual(env["DATAPOOL_LISTEN"], "0.0.0.0:50051")
            self.assertEqual(env["DATAPOOL_METRICS_LISTEN"], "0.0.0.0:9464")
            self.assertEqual(env["DATAPOOL_SHARED_DIR"], "/data/shared")
            self.assertEqual(env["DATAPOOL_INPUT_DIR"], "/data/input")
        # The GPU image's Debian libraries are the CPU image's but Debian's
        # CPU libtorch.
        self.assertEqual(set(self.runtime_packages("gpu")),
                         set(self.runtime_packages("cpu")) - {"libtorch1.13"})

    def test_build_packages_are_ci_packages(self):
        """The image builds with packages CI installs (scripts/setup.sh), so
        CI's build is the image's build."""
        setup = set(bash_array(SETUP, "DATAPOOL_PACKAGES"))
        image = set(bash_array(IMAGE_BUILD, "build_packages"))
        image |= {"libtorch-dev", "libfaiss-dev"}  # the CPU variant's
        self.assertEqual(image - setup, set())

    def test_staged_files(self):
        found = sorted(os.path.relpath(os.path.join(d, f), self.stage)
                       for d, _, files in os.walk(self.stage) for f in files)
        self.assertEqual(found, ["usr/local/bin/datapool",
                                 "usr/local/bin/datapool-server",
                                 MODEL_LIBRARY])

    # -- runtime libraries ------------------------------------------------------
    def test_runtime_packages_provide_every_library(self):
        db = debian_packages.Database()
        listed = self.runtime_packages()
        self.assertTrue(listed)
        for pkg in listed:
            self.assertTrue(db.installed(pkg),
                            "runtime package %s is not a Debian 12 package "
                            "installed here" % pkg)
        # debian:bookworm has the Essential packages and apt.
        base = db.closure(db.essential | {"apt"})
        image = db.closure(listed) | base
        used = set()
        # The server loads the model library (and libtorch) at run time.
        for path in ("usr/local/bin/datapool-server", "usr/local/bin/datapool",
                     MODEL_LIBRARY):
            binary = os.path.join(self.stage, path)
            name = os.path.basename(path)
            libs = debian_packages.loaded_libraries(binary)
            missing = sorted(s for s, p in libs.items() if p == "not found")
            self.assertEqual(missing, [], "%s: libraries not found" % name)
            owner = debian_packages.owners(libs.values())
            unowned = sorted(p for p in libs.values() if p not in owner)
            self.assertEqual(unowned, [],
                             "%s loads libraries no Debian package owns"
                             % name)
            outside = sorted("%s (%s)" % (p, owner[p]) for p in libs.values()
                             if owner[p] not in image)
            self.assertEqual(outside, [],
                             "%s loads libraries from packages the runtime "
                             "stage does not install" % name)
            used |= {owner[p] for p in libs.values()}
            # What a binary links directly is listed by name, so that the
            # list cannot silently rely on another package's dependencies.
            for soname in debian_packages.needed_sonames(binary):
                pkg = owner[libs[soname]] if soname in libs else None
                if pkg is None or pkg in base:
                    continue
                self.assertIn(pkg, listed,
                              "%s links %s from %s, which the runtime stage "
                              "does not list" % (name, soname, pkg))
        self.assertEqual(sorted(set(listed) - used), [],
                         "runtime packages no staged binary loads a library "
                         "from")

    # -- the staged server, as the image runs it ----------------------------------
    def test_staged_server_as_in_image(self):
        if os.geteuid() != 0:
            self.skipTest("needs root: a mount namespace with a read-only "
                          "root and setpriv to the image's user")
        for tool in ("unshare", "setpriv", "findmnt", "mount"):
            if shutil.which(tool) is None:
                self.skipTest("%s (util-linux) is missing" % tool)
        uid, gid = (int(x) for x in first(self.cpu(), "USER").split(":"))
        self.assertNotEqual(uid, 0)
        root = tempfile.mkdtemp(prefix="run-", dir=self.tmp)
        os.chmod(root, 0o755)
        shared = os.path.join(root, "shared")
        input_dir = os.path.join(root, "input")
        os.makedirs(shared)
        os.chown(shared, uid, gid)
        images = os.path.join(input_dir, "batch")
        os.makedirs(images)
        os.chmod(input_dir, 0o755)
        os.chmod(images, 0o755)
        for i in range(6):
            write_png(os.path.join(images, "img%d.png" % i), 24, 24,
                      lambda x, y, i=i: ((x * 9 + i * 40) % 256,
                                         (y * 7 + i * 70) % 256,
                                         (x * y + i * 13) % 256))
            os.chmod(os.path.join(images, "img%d.png" % i), 0o644)

        # The image's environment, with this test's folders and loopback.
        env = stage_env(self.cpu())
        env.update({
            "PATH": self.bin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                    "/usr/bin:/sbin:/bin",
            "DATAPOOL_SHARED_DIR": shared,
            "DATAPOOL_INPUT_DIR": input_dir,
            "DATAPOOL_LISTEN": "127.0.0.1:0",
            "DATAPOOL_METRICS_LISTEN": "127.0.0.1:0",
        })
        server = os.path.join(self.bin, "datapool-server")
        help_text = subprocess.run([server, "--help"], capture_output=True,
                                   text=True).stdout
        has_metrics = "--metrics-listen" in help_text
        if not has_metrics:
            del env["DATAPOOL_METRICS_LISTEN"]
        wrapper = ["unshare", "--mount", "--propagation", "private",
                   "sh", "-c", AS_IN_IMAGE, "as-in-image",
                   shared, str(uid), str(gid)]
        cli = os.path.join(self.bin, "datapool")

        def run_cli(*args):
            proc = subprocess.run([cli, "--server", srv.address] + list(args),
                                  capture_output=True, text=True,
                                  timeout=TIMEOUT_S,
                                  env={"PATH": env["PATH"]})
            self.assertEqual(proc.returncode, 0, "datapool %s: %s%s\n%s"
                             % (" ".join(args), proc.stdout, proc.stderr,
                                srv.describe()))
            return proc.stdout

        with RunningServer(shared, input_dir, binary=server, env=env,
                           wrapper=wrapper, startup_timeout=TIMEOUT_S) as srv:
            with open("/proc/%d/status" % srv.proc.pid) as f:
                status = f.read()
            self.assertRegex(status, r"(?m)^Uid:\s+%d\s+%d\s+%d\s+%d$"
                             % ((uid,) * 4))
            self.assertRegex(status, r"(?m)^CapEff:\s+0+$")
            self.assertRegex(status, r"(?m)^NoNewPrivs:\s+1$")

            self.assertEqual(run_cli("health").strip(), "SERVING")
            # The image's HEALTHCHECK command, as written (its address is
            # the image's listen port on loopback).
            healthcheck = first(self.cpu(), "HEALTHCHECK")
            cmd = json.loads(healthcheck.split(" CMD ", 1)[1])
            self.assertIn("127.0.0.1:50051", cmd)
            cmd = [srv.address if a == "127.0.0.1:50051" else a for a in cmd]
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=TIMEOUT_S,
                                  env={"PATH": env["PATH"]})
            self.assertEqual(proc.returncode, 0, "%s: %s%s"
                             % (cmd, proc.stdout, proc.stderr))
            out = json.loads(run_cli("select", "--pool", "imgs", "--input",
                                     "batch", "--n-samples", "3", "--json"))
            self.assertEqual(len(out["selected"]), 3, out)
            self.assertTrue(out["committed"], out)
            self.assertIn("imgs", run_cli("pools", "list"))
            if has_metrics:
                m = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)",
                              srv.stderr_text())
                self.assertTrue(m, srv.describe())
                with urllib.request.urlopen(m.group(1), timeout=10) as r:
                    self.assertEqual(r.status, 200)
                    text = r.read().decode()
                self.assertIn("# TYPE", text)

        # Everything the server wrote is in the shared folder, as its user.
        written = [os.path.join(d, f) for d, _, files in os.walk(shared)
                   for f in files]
        self.assertTrue(any(p.endswith("datapool_latest.csv")
                            for p in written), written)
        for p in written:
            self.assertEqual(os.stat(p).st_uid, uid, p)
        self.assertEqual(sorted(os.listdir(input_dir)), ["batch"])


if __name__ == "__main__":
    unittest.main()
