"""The in-tree PEP 517 build backend of the subwire Python package.

It needs nothing but the standard library (``build-system.requires = []``), so
``pip install ./clients/python`` works offline, in an isolated build environment, on a
machine with no package index: pip has nothing to download before it can build.

It writes a pure-Python wheel (``py3-none-any``) of the ``subwire`` package, an sdist of
the project, and a PEP 660 editable wheel (a ``.pth`` file naming the source directory).
The metadata comes from ``pyproject.toml`` ([project]), read with ``tomllib``.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "subwire"
#: Files of the package besides its modules.
PACKAGE_DATA = ("py.typed",)
#: What the sdist carries besides the package.
SDIST_FILES = ("pyproject.toml", "README.md")
SDIST_DIRS = ("_build", "subwire", "tests", "examples")
#: Zip timestamps: fixed, so two builds of one tree are the same bytes.
_EPOCH = (2020, 1, 1, 0, 0, 0)


def _project() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _dist_name(project: dict[str, Any]) -> str:
    return project["name"].replace("-", "_")


def _metadata(project: dict[str, Any]) -> str:
    """Core metadata 2.1 (PKG-INFO / METADATA) of the [project] table."""
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}"]
    if "description" in project:
        lines.append(f"Summary: {project['description']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lic = project.get("license")
    if isinstance(lic, dict) and "text" in lic:
        lines.append(f"License: {lic['text']}")
    for c in project.get("classifiers", []):
        lines.append(f"Classifier: {c}")
    for d in project.get("dependencies", []):
        lines.append(f"Requires-Dist: {d}")
    for extra, deps in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for d in deps:
            lines.append(f'Requires-Dist: {d} ; extra == "{extra}"')
    body = ""
    readme = project.get("readme")
    if isinstance(readme, str) and (ROOT / readme).exists():
        lines.append("Description-Content-Type: text/markdown")
        body = "\n" + (ROOT / readme).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n" + body


def _package_files() -> list[tuple[str, Path]]:
    """(archive name, path) of every module and data file of the package, sorted."""
    pkg = ROOT / PACKAGE
    out = [(f"{PACKAGE}/{p.relative_to(pkg).as_posix()}", p) for p in pkg.rglob("*.py") if "__pycache__" not in p.parts]
    out += [(f"{PACKAGE}/{name}", pkg / name) for name in PACKAGE_DATA if (pkg / name).exists()]
    return sorted(out)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory: str, files: list[tuple[str, bytes]]) -> str:
    project = _project()
    dist = _dist_name(project)
    version = project["version"]
    info = f"{dist}-{version}.dist-info"
    meta = [
        (f"{info}/METADATA", _metadata(project).encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: subwire_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{info}/top_level.txt", f"{PACKAGE}\n".encode()),
    ]
    entries = files + meta
    record = "\n".join(_record_line(n, d) for n, d in entries) + f"\n{info}/RECORD,,\n"
    filename = f"{dist}-{version}-py3-none-any.whl"
    os.makedirs(wheel_directory, exist_ok=True)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries + [(f"{info}/RECORD", record.encode())]:
            zi = zipfile.ZipInfo(name, _EPOCH)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return filename


# --- PEP 517 hooks ----------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings: Any = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: Any = None) -> list[str]:
    return []


def get_requires_for_build_editable(config_settings: Any = None) -> list[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Any = None) -> str:
    project = _project()
    info = f"{_dist_name(project)}-{project['version']}.dist-info"
    d = Path(metadata_directory) / info
    d.mkdir(parents=True, exist_ok=True)
    (d / "METADATA").write_text(_metadata(project), encoding="utf-8")
    (d / "WHEEL").write_text("Wheel-Version: 1.0\nGenerator: subwire_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    return info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: Any = None, metadata_directory: str | None = None) -> str:
    return _write_wheel(wheel_directory, [(name, path.read_bytes()) for name, path in _package_files()])


def build_editable(wheel_directory: str, config_settings: Any = None, metadata_directory: str | None = None) -> str:
    """PEP 660: a wheel whose only file is a ``.pth`` putting this source tree on ``sys.path``."""
    return _write_wheel(wheel_directory, [(f"__editable__.{PACKAGE}.pth", f"{ROOT}\n".encode())])


def build_sdist(sdist_directory: str, config_settings: Any = None) -> str:
    project = _project()
    base = f"{_dist_name(project)}-{project['version']}"
    paths = [ROOT / f for f in SDIST_FILES if (ROOT / f).exists()]
    for d in SDIST_DIRS:
        if (ROOT / d).is_dir():
            paths += sorted(p for p in (ROOT / d).rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    filename = f"{base}.tar.gz"
    os.makedirs(sdist_directory, exist_ok=True)
    mtime = time.mktime((*_EPOCH, 0, 0, -1))

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        ti = tarfile.TarInfo(f"{base}/{name}")
        ti.size = len(data)
        ti.mtime = int(mtime)
        ti.mode = 0o644
        tar.addfile(ti, io.BytesIO(data))

    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "PKG-INFO", _metadata(project).encode())
        for p in paths:
            add(tar, p.relative_to(ROOT).as_posix(), p.read_bytes())
    return filename
