"""A PEP 517 build backend for the faaspot client, standard library only.

pip installs a project's [build-system] requires from a package index before building; this
backend requires nothing, so `pip install ./clients/python` needs no network. It builds a pure
wheel (faaspot/*.py plus METADATA, WHEEL and RECORD) and an sdist of the source tree.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "faaspot"
# Files of an sdist besides the package, relative to ROOT.
SDIST_EXTRA = ("pyproject.toml", "README.md", "_build/faaspot_build.py")
SDIST_DIRS = ("tests",)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    meta = _metadata()
    name, version = meta["name"], meta["version"]
    dist_info = "%s-%s.dist-info" % (name, version)
    files = [(rel.replace(os.sep, "/"), _read(rel)) for rel in _package_files()]
    files.append((dist_info + "/METADATA", _metadata_text(meta).encode("utf-8")))
    files.append((dist_info + "/WHEEL", (
        "Wheel-Version: 1.0\nGenerator: faaspot_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode("utf-8")))
    record = "".join("%s,sha256=%s,%d\n" % (path, _digest(data), len(data)) for path, data in files)
    files.append((dist_info + "/RECORD", (record + dist_info + "/RECORD,,\n").encode("utf-8")))

    filename = "%s-%s-py3-none-any.whl" % (name, version)
    os.makedirs(wheel_directory, exist_ok=True)
    stamp = time.gmtime(_epoch())[:6]
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as whl:
        for path, data in files:
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(info, data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    meta = _metadata()
    base = "%s-%s" % (meta["name"], meta["version"])
    rels = list(SDIST_EXTRA) + _package_files()
    for d in SDIST_DIRS:
        rels += _py_files(d)
    filename = base + ".tar.gz"
    os.makedirs(sdist_directory, exist_ok=True)
    members = [("PKG-INFO", _metadata_text(meta).encode("utf-8"))]
    members += [(rel.replace(os.sep, "/"), _read(rel)) for rel in rels]
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for rel, data in members:
            info = tarfile.TarInfo(base + "/" + rel)
            info.size, info.mode, info.mtime = len(data), 0o644, _epoch()
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return filename


def _package_files():
    return _py_files(PACKAGE)


def _py_files(folder):
    out = []
    for name in sorted(os.listdir(os.path.join(ROOT, folder))):
        if name.endswith(".py") and os.path.isfile(os.path.join(ROOT, folder, name)):
            out.append(os.path.join(folder, name))
    return out


def _read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def _digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _epoch():
    # Reproducible archives; zip cannot hold dates before 1980.
    return max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)


def _metadata():
    """name, version, description, readme and requires-python from pyproject.toml's [project]
    (simple `key = "string"` lines only) and the version from faaspot/__init__.py."""
    meta, table = {}, None
    for line in _read("pyproject.toml").decode("utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            table = line.strip("[]").strip()
            continue
        m = re.match(r'^([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(#.*)?$', line)
        if table == "project" and m:
            meta[m.group(1)] = m.group(2).replace('\\"', '"').replace("\\\\", "\\")
    m = re.search(r'^__version__\s*=\s*"([^"]+)"', _read(PACKAGE + "/__init__.py").decode("utf-8"), re.M)
    if not m:
        raise RuntimeError("no __version__ in %s/__init__.py" % PACKAGE)
    meta["version"] = m.group(1)
    return meta


def _metadata_text(meta):
    lines = ["Metadata-Version: 2.1", "Name: " + meta["name"], "Version: " + meta["version"]]
    if meta.get("description"):
        lines.append("Summary: " + meta["description"])
    if meta.get("requires-python"):
        lines.append("Requires-Python: " + meta["requires-python"])
    readme = meta.get("readme")
    if readme:
        lines.append("Description-Content-Type: text/markdown")
        return "\n".join(lines) + "\n\n" + _read(readme).decode("utf-8")
    return "\n".join(lines) + "\n"
