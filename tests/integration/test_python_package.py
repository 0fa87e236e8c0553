"""The Python package as IT or a developer installs it: the wheel and the sdist
built from this tree, their contents and metadata checked, then installed in a fresh
virtual environment that knows nothing of this tree, where the installed command runs."""

from __future__ import annotations

import email
import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from agentapp import __version__
from tests.integration.conftest import need

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                        str(ROOT)], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (wheel,) = out.glob("agentapp-*.whl")
    (sdist,) = out.glob("agentapp-*.tar.gz")
    return wheel, sdist


def test_the_wheel_carries_the_texts_the_example_and_complete_metadata(
    built: tuple[Path, Path],
) -> None:
    wheel, _sdist = built
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = email.message_from_bytes(z.read(f"agentapp-{__version__}.dist-info/METADATA"))
    assert {"agentapp/py.typed", "agentapp/i18n/fr/LC_MESSAGES/agentapp.mo",
            "agentapp/entry.py", "agentapp/hub/schema.sql"} <= names  # fmt: skip
    data = f"agentapp-{__version__}.data/data/share/agentapp/resources/"
    assert data + "policy-example.toml" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "scripts/"))]
    assert meta["Name"] == "agentapp" and meta["Version"] == __version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert set(meta.get_all("License-File") or []) == {"LICENSE", "THIRD_PARTY_LICENSES.md"}
    assert "agentapp developers" in meta["Author-email"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    classifiers = meta.get_all("Classifier") or []
    assert "Natural Language :: French" in classifiers and "Typing :: Typed" in classifiers
    required = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert not [r for r in required if r.startswith("opencv")]  # a test tool only
    assert meta.get_payload().startswith("# agentapp")  # the README as the description


def test_the_sdist_is_the_whole_project(built: tuple[Path, Path]) -> None:
    _wheel, sdist = built
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout:  # (a clone: every tracked file is in it)
        missing = sorted(set(tracked.stdout.split()) - names - {".gitignore"})
        assert missing == []
    for path in ("tests/unit/test_policy.py", "docs/rules.md", "resources/policy-example.toml",
                 "installer/linux/copyright", "scripts/test.sh", ".ci/run", "LICENSE",
                 "THIRD_PARTY_LICENSES.md", "pyproject.toml"):  # fmt: skip
        assert path in names, path
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_and_the_sdist_install_in_a_fresh_venv(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    """`pip install` from the package index (its dependencies), then the command, run away
    from this tree: its version and a check of the example policy it installed."""
    wheel, sdist = built
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py, pip = env_dir / "bin/python", [str(env_dir / "bin/python"), "-m", "pip"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(AGENTAPP_DATA_DIR=str(tmp_path / "data"), PIP_DISABLE_PIP_VERSION_CHECK="1")

    def run(*argv: str, timeout: int = 120) -> str:
        r = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=timeout)  # fmt: skip
        assert r.returncode == 0, f"{' '.join(argv)}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
        return r.stdout

    # (--no-compile: byte-compiling PySide6 and the rest costs 10 CPU seconds and proves
    # nothing about this package; Python compiles what the command imports as it runs)
    install = [*pip, "install", "-q", "--no-compile"]
    r = subprocess.run([*install, str(wheel)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)  # fmt: skip
    need(r.returncode == 0 or "Could not find a version" not in r.stderr,
         "the package index is not reachable")  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    where = run(str(py), "-c", "import agentapp; print(agentapp.__file__)")
    assert where.startswith(str(env_dir)), where  # the installed package, not this tree
    agentapp = str(env_dir / "bin/agentapp")
    example = env_dir / "share/agentapp/resources/policy-example.toml"
    for kind in ("wheel", "sdist"):
        if kind == "sdist":  # over the wheel: its dependencies are in place; it builds a wheel
            run(*install, "--force-reinstall", "--no-deps", str(sdist), timeout=600)
        assert run(agentapp, "--version").strip() == f"agentapp {__version__}", kind
        checked = run(agentapp, "policy", "check", str(example))
        assert "valid (version 1, purpose training)" in checked, kind
        # a login that names another person (an admin of the site's policy) is refused in
        # every installed copy: only the project's own checkout honours the tests' variable
        r = subprocess.run([agentapp, "recordings", "list"], cwd=tmp_path, capture_output=True,
                           env={**env, "AGENTAPP_USER": "site-admin-x"}, text=True,
                           timeout=120)  # fmt: skip
        assert r.returncode == 1, (kind, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and "AGENTAPP_USER is set" in r.stderr, r.stderr
        traced = [p for p in (tmp_path / "data").rglob("*") if p.is_file()
                  and b"site-admin-x" in p.read_bytes()]  # fmt: skip
        assert not traced, traced
