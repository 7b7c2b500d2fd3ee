"""The package installs offline: `pip install --no-index ./clients/python` with no index
reachable, into a fresh virtual environment, with or without the system's packages. The
build backend is in the tree (_build/subwire_build.py) and needs nothing from an index."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import msgpack
import pytest

from conftest import ROOT, Listener
from subwire import _msgpack_py

PY = "/usr/bin/python3"  # Debian's, with python3-venv


def offline_env() -> dict[str, str]:
    """pip with no index: PIP_NO_INDEX, and an index URL that nothing answers, should pip ignore the first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in ("PYTHONPATH",)}
    env.update({"PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/nowhere", "PIP_EXTRA_INDEX_URL": "", "PIP_FIND_LINKS": "", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return env


def copy_of_the_package(dest: Path) -> Path:
    """A copy: pip must build from what is committed, and the build must not touch the tree."""
    shutil.copytree(ROOT / "clients" / "python", dest, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info", ".pytest_cache"))
    return dest


def venv(where: Path, system: bool) -> Path:
    subprocess.run([PY, "-m", "venv", *(["--system-site-packages"] if system else []), str(where)], check=True, timeout=180)
    return where


def pip_install(env_dir: Path, src: Path, *extra: str) -> None:
    r = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--no-index", *extra, str(src)],
                       capture_output=True, text=True, timeout=300, env=offline_env(), cwd=str(env_dir))
    assert r.returncode == 0, r.stdout + r.stderr


PROBE = r"""
import asyncio, pathlib, sys, subwire, subwire._framing as f
async def main():
    c = await subwire.connect(sys.argv[1])
    me = await c.id()
    echoed = await c.query(sys.argv[2], "echo", {"b": b"\x00\xff" * 600, "n": -70000, "f": 1.5, "s": "é" * 40, "l": list(range(20))}, timeout=20)
    await c.close()
    print(subwire.__file__, (pathlib.Path(subwire.__file__).parent / "py.typed").exists(), f.CODEC, me["ss58"], echoed["n"], len(echoed["b"]), echoed["s"] == "é" * 40)
asyncio.run(main())
"""


@pytest.mark.parametrize("system", [False, True], ids=["plain-venv", "system-site-packages-venv"])
def test_pip_install_no_index_into_a_fresh_venv_works_offline(workdir: Path, alice: Listener, bob: Listener, system: bool) -> None:
    base = workdir / ("venv-system" if system else "venv-plain")
    env_dir = venv(base / "env", system)
    src = copy_of_the_package(base / "src")
    before = sorted(p.relative_to(src).as_posix() for p in src.rglob("*"))
    pip_install(env_dir, src)
    after = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if "__pycache__" not in p.parts)
    assert after == [p for p in before if "__pycache__" not in p], "the build wrote into the source tree"
    r = subprocess.run([str(env_dir / "bin" / "python"), "-c", PROBE, alice.socket, bob.addr], capture_output=True, text=True, timeout=120,
                       cwd=str(base), env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stdout + r.stderr
    where, typed, codec, ss58, n, blen, s_ok = r.stdout.split()
    assert where.startswith(str(env_dir)) and typed == "True"
    # without the system's packages the venv has no msgpack: frames use the pure-Python codec
    assert codec == ("msgpack" if system else "pure-python")
    assert ss58 == alice.ss58 and n == "-70000" and blen == "1200" and s_ok == "True"


def test_an_editable_install_points_at_the_tree(workdir: Path) -> None:
    env_dir = venv(workdir / "venv-editable", True)
    src = copy_of_the_package(workdir / "editable-src")
    pip_install(env_dir, src, "-e")
    r = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import subwire; print(subwire.__file__)"], capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 0 and r.stdout.strip() == str(src / "subwire" / "__init__.py"), r.stdout + r.stderr


def test_the_backend_writes_a_wheel_and_an_sdist_with_the_package(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "clients" / "python" / "_build"))
    try:
        import subwire_build
    finally:
        sys.path.pop(0)
    wheel = tmp_path / subwire_build.build_wheel(str(tmp_path))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        record = z.read("subwire-0.1.0.dist-info/RECORD").decode()
        meta = z.read("subwire-0.1.0.dist-info/METADATA").decode()
    assert {"subwire/__init__.py", "subwire/client.py", "subwire/_msgpack_py.py", "subwire/py.typed", "subwire-0.1.0.dist-info/WHEEL"} <= names
    assert all(n in record for n in names)
    assert "Requires-Python: >=3.11" in meta and 'Requires-Dist: msgpack>=1.0 ; extra == "fast"' in meta
    sdist = tmp_path / subwire_build.build_sdist(str(tmp_path))
    with tarfile.open(sdist) as t:
        members = set(t.getnames())
    assert {"subwire-0.1.0/pyproject.toml", "subwire-0.1.0/PKG-INFO", "subwire-0.1.0/_build/subwire_build.py", "subwire-0.1.0/subwire/client.py"} <= members


def test_the_pure_python_codec_agrees_with_msgpack() -> None:
    rnd = random.Random(18)

    def value(depth: int = 0) -> object:
        k = rnd.randrange(10 if depth < 3 else 7)
        if k == 0:
            return None
        if k == 1:
            return rnd.random() < 0.5
        if k == 2:
            return rnd.choice([0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63, rnd.randrange(-2**63, 2**64)])
        if k == 3:
            return rnd.uniform(-1e300, 1e300)
        if k == 4:
            return "".join(rnd.choice("aé€😀") for _ in range(rnd.choice([0, 5, 31, 32, 300, 70000])))
        if k in (5, 6):
            return bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 255, 256, 70000])))
        if k == 7:
            return [value(depth + 1) for _ in range(rnd.choice([0, 3, 15, 16, 40]))]
        return {f"k{i}": value(depth + 1) for i in range(rnd.choice([0, 3, 15, 16, 20]))}

    for _ in range(300):
        v = value()
        ours = _msgpack_py.packb(v)
        assert ours == msgpack.packb(v, use_bin_type=True)
        assert _msgpack_py.unpackb(ours) == msgpack.unpackb(ours, raw=False, strict_map_key=False)


def test_the_pure_python_codec_refuses_malformed_input() -> None:
    for bad in [b"", b"\xc4\x05ab", b"\x92\x01", b"\xd9\x02\xff\xfe", b"\xc1", b"\x01\x02", b"\xdd\xff\xff\xff\xff"]:
        with pytest.raises(_msgpack_py.UnpackError):
            _msgpack_py.unpackb(bad)
    with pytest.raises(_msgpack_py.PackError):
        _msgpack_py.packb(object())
