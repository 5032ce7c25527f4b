"""PEP 517 build backend of datapool-client, standard library only.

Why not setuptools: pip builds in an isolated environment by default and
installs the backend's requirements there from an index. Offline (the
setting this client is made for: Debian's python3-grpcio and
python3-protobuf, no network) that fails, so plain `pip install
./client/python` would need --no-build-isolation plus the python3-wheel
package. This backend needs nothing but Python, so the plain command works
offline, isolated or not. The package is pure Python and its generated
modules are committed (regen.sh), so there is nothing to compile: a wheel
is a zip of datapool_client/ plus metadata.

Metadata comes from pyproject.toml's [project] table (tomllib, Python >=
3.11; older Pythons get `tomli` as a build requirement).
"""

import base64
import hashlib
import io
import os
import re
import sys
import tarfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "datapool_client"
# Files of the package that go into the wheel.
PACKAGE_FILE_RE = re.compile(r".*(\.py|py\.typed)$")
# Extra files of the sdist (besides the package).
SDIST_FILES = ("pyproject.toml", "README.md", "regen.sh",
               "_backend/datapool_build.py")


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
        return tomllib
    import tomli  # requested by get_requires_for_build_*
    return tomli


def _project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = _toml().load(f)["project"]
    for key in ("name", "version"):
        if key not in project:
            raise ValueError("pyproject.toml: [project] needs %r" % key)
    return project


def _dist_name(project):
    return re.sub(r"[-_.]+", "_", project["name"]).lower()


def _metadata(project):
    lines = ["Metadata-Version: 2.1",
             "Name: " + project["name"],
             "Version: " + project["version"]]
    if project.get("description"):
        lines.append("Summary: " + project["description"])
    if project.get("requires-python"):
        lines.append("Requires-Python: " + project["requires-python"])
    lic = project.get("license", {})
    if isinstance(lic, dict) and lic.get("text"):
        lines.append("License: " + lic["text"])
    for dep in project.get("dependencies", []):
        lines.append("Requires-Dist: " + dep)
    body = ""
    readme = project.get("readme")
    if isinstance(readme, str):
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
        lines.append("Description-Content-Type: text/markdown")
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def _package_files():
    """(path in the archive, absolute path), sorted, of the package."""
    out = []
    top = os.path.join(ROOT, PACKAGE)
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in filenames:
            if PACKAGE_FILE_RE.match(name):
                path = os.path.join(dirpath, name)
                out.append((os.path.relpath(path, ROOT).replace(os.sep, "/"),
                            path))
    return sorted(out)


def _record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _Wheel:
    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.records = []

    def add(self, arcname, data):
        info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        self.records.append("%s,%s,%d" % (arcname, _record_hash(data),
                                          len(data)))

    def close(self, dist_info):
        record = dist_info + "/RECORD"
        self.records.append(record + ",,")
        data = ("\n".join(self.records) + "\n").encode("utf-8")
        info = zipfile.ZipInfo(record, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        self.zip.writestr(info, data)
        self.zip.close()


def _dist_info_files(project):
    return {
        "METADATA": _metadata(project),
        "WHEEL": (b"Wheel-Version: 1.0\nGenerator: datapool_build\n"
                  b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
        "top_level.txt": (PACKAGE + "\n").encode(),
    }


def _build(wheel_directory, contents):
    project = _project()
    name = "%s-%s" % (_dist_name(project), project["version"])
    filename = name + "-py3-none-any.whl"
    wheel = _Wheel(os.path.join(wheel_directory, filename))
    try:
        for arcname, data in contents:
            wheel.add(arcname, data)
        dist_info = name + ".dist-info"
        for base, data in _dist_info_files(project).items():
            wheel.add(dist_info + "/" + base, data)
        wheel.close(dist_info)
    except BaseException:
        wheel.zip.close()
        os.unlink(os.path.join(wheel_directory, filename))
        raise
    return filename


def _read(path):
    with open(path, "rb") as f:
        return f.read()


# -- PEP 517 / 660 hooks -------------------------------------------------------
def get_requires_for_build_wheel(config_settings=None):
    return [] if sys.version_info >= (3, 11) else ["tomli"]


get_requires_for_build_sdist = get_requires_for_build_wheel
get_requires_for_build_editable = get_requires_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    project = _project()
    dist_info = "%s-%s.dist-info" % (_dist_name(project), project["version"])
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    for base, data in _dist_info_files(project).items():
        with open(os.path.join(metadata_directory, dist_info, base), "wb") as f:
            f.write(data)
    return dist_info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    return _build(wheel_directory,
                  [(arc, _read(path)) for arc, path in _package_files()])


def build_editable(wheel_directory, config_settings=None,
                   metadata_directory=None):
    # A .pth file putting this source folder on sys.path.
    return _build(wheel_directory,
                  [(PACKAGE + "_editable.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    name = "%s-%s" % (_dist_name(project), project["version"])
    filename = name + ".tar.gz"
    files = [(f, os.path.join(ROOT, f)) for f in SDIST_FILES]
    files += _package_files()
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        def add(arcname, data, mode=0o644):
            info = tarfile.TarInfo(name + "/" + arcname)
            info.size = len(data)
            info.mode = mode
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
        add("PKG-INFO", _metadata(project))
        for arcname, path in files:
            add(arcname, _read(path),
                0o755 if os.access(path, os.X_OK) else 0o644)
    return filename
