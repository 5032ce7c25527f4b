"""Which Debian packages a program's shared libraries come from, and what a
list of packages brings along, from the dpkg database of this machine.

Used by test_image.py to check the Dockerfile's runtime package list against
the libraries the staged binaries load."""

import os
import re
import subprocess


def _strip(name):
    """'libc6:amd64 (>= 2.34)' -> 'libc6'."""
    name = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", name).strip()
    return name.split(":", 1)[0]


class Database:
    """The installed packages with their Pre-Depends/Depends and Provides."""

    def __init__(self):
        out = subprocess.run(
            ["dpkg-query", "-W", "-f",
             "${db:Status-Abbrev}\t${Package}\t${Essential}\t"
             "${Pre-Depends}\t${Depends}\t${Provides}\n"],
            check=True, capture_output=True, text=True).stdout
        self.depends = {}    # package -> [[alternative, ...], ...]
        self.providers = {}  # virtual or real name -> {installed package}
        self.essential = set()
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) != 6 or not fields[0].startswith("ii"):
                continue
            _, pkg, essential, pre, dep, provides = fields
            groups = []
            for clause in (pre + "," + dep).split(","):
                alts = [_strip(a) for a in clause.split("|") if a.strip()]
                if alts:
                    groups.append(alts)
            self.depends[pkg] = groups
            self.providers.setdefault(pkg, set()).add(pkg)
            for p in provides.split(","):
                if p.strip():
                    self.providers.setdefault(_strip(p), set()).add(pkg)
            if essential == "yes":
                self.essential.add(pkg)

    def installed(self, pkg):
        return pkg in self.depends

    def closure(self, roots):
        """`roots` and everything apt would install with them, as far as
        this machine can tell: for a dependency with alternatives, one
        already in the set wins, else the first one installed here."""
        result = set()
        todo = [p for p in roots if self.installed(p)]
        while todo:
            pkg = todo.pop()
            if pkg in result:
                continue
            result.add(pkg)
            for alts in self.depends.get(pkg, ()):
                candidates = [c for a in alts
                              for c in sorted(self.providers.get(a, ()))]
                if not candidates or any(c in result for c in candidates):
                    continue
                todo.append(candidates[0])
        return result


def _usrmerge_variants(path):
    yield path
    if path.startswith("/usr/"):
        yield path[len("/usr"):]
    else:
        yield "/usr" + path


def owners(paths):
    """{path: package} for each file path dpkg knows (through symlinks and
    the /usr merge); paths no package owns are left out."""
    candidates = {}
    for path in paths:
        cands = []
        for p in (path, os.path.realpath(path)):
            for v in _usrmerge_variants(p):
                if v not in cands:
                    cands.append(v)
        candidates[path] = cands
    query = sorted({c for cs in candidates.values() for c in cs})
    out = subprocess.run(["dpkg-query", "-S"] + query, capture_output=True,
                         text=True).stdout
    owner_of = {}
    for line in out.splitlines():
        if line.startswith("diversion ") or ": " not in line:
            continue
        pkgs, path = line.split(": ", 1)
        owner_of[path.strip()] = _strip(pkgs.split(",")[0])
    result = {}
    for path, cands in candidates.items():
        for c in cands:
            if c in owner_of:
                result[path] = owner_of[c]
                break
    return result


LDD_LINE_RE = re.compile(r"^\s*(\S+)\s+=>\s+(\S+|not found)")


def loaded_libraries(binary):
    """{soname: path} of every shared library the dynamic loader maps for
    `binary` (ldd), 'not found' as the path where it finds none."""
    out = subprocess.run(["ldd", binary], check=True, capture_output=True,
                         text=True).stdout
    libs = {}
    for line in out.splitlines():
        m = LDD_LINE_RE.match(line)
        if m:
            libs[m.group(1)] = m.group(2)
    return libs


def needed_sonames(binary):
    """The DT_NEEDED entries of `binary` (what it links directly)."""
    out = subprocess.run(["readelf", "-d", binary], check=True,
                         capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
