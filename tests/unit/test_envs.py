"""envs/*.yaml (conda) pin exactly what pyproject.toml pins; requirements.lock pins every package, at the same
versions as the direct pins; `make setup` installs from it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from importlib import metadata

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from conftest import REPO

LOCK = REPO / "requirements.lock"
LOCK_LINE = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def exact_pins(requirements: list[str], where: str) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        assert sep, f"{where}: {requirement!r} is not pinned with =="
        pins[canonical(name.strip())] = version.strip()
    return pins


def pyproject_pins(extra: str | None = None) -> dict[str, str]:
    """The pins of the dependencies, or with ``extra`` of that optional group."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return exact_pins(requirements, "pyproject.toml")


def conda_pins() -> dict[str, dict[str, str]]:
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    pins = {}
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
        pins[env.name] = exact_pins(pip, env.name)
        python = [d for d in spec["dependencies"] if isinstance(d, str) and d.startswith("python")]
        assert python == ["python =3.11"]
    return pins


def lock_pins() -> dict[str, str]:
    """{package: version} of requirements.lock, whose every line is a comment or name==version, each name once."""
    pins = {}
    for number, line in enumerate(LOCK.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = LOCK_LINE.fullmatch(line.strip())
        assert match, f"requirements.lock:{number}: {line!r} is not name==version"
        name = canonical(match["name"])
        assert name not in pins, f"requirements.lock:{number}: {name} is pinned twice"
        pins[name] = match["version"]
    return pins


def test_torch_pins():
    pins = pyproject_pins()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_conda_envs_agree_with_pyproject():
    for name, pins in conda_pins().items():
        assert pins == pyproject_pins(), f"{name} disagrees with pyproject.toml"


def test_the_lock_pins_every_package_once_at_the_direct_pins_versions():
    lock = lock_pins()
    direct = {"pyproject.toml": pyproject_pins(), "pyproject.toml [test]": pyproject_pins("test"), **conda_pins()}
    for where, pins in direct.items():
        differ = {name: (version, lock.get(name)) for name, version in pins.items() if lock.get(name) != version}
        assert not differ, f"{where} and requirements.lock differ ({{package: (pin, lock)}}); run `make lock`: {differ}"
    assert "chexpertnet" not in lock, "the project itself is not locked"
    # `make setup` installs pip and builds the package from the lock too
    assert {"pip", "setuptools"} <= set(lock)
    for text in tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]:
        requirement = Requirement(text)
        assert lock[canonical(requirement.name)] in requirement.specifier, f"the lock's version breaks {text!r}"


def installed_requirements() -> dict[str, str]:
    """{package: installed version} of every package that chexpertnet with its test extra needs, transitively, as
    the installed packages' metadata declares them on this machine."""
    found, todo = {}, [("chexpertnet", frozenset({"test"}))]
    while todo:
        name, extras = todo.pop()
        dist = metadata.distribution(name)
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate({"extra": e}) for e in (extras or {""})):
                continue
            key = canonical(requirement.name)
            if key not in found:
                found[key] = metadata.version(requirement.name)
                todo.append((requirement.name, frozenset(requirement.extras)))
    return found


def test_every_package_installed_for_the_project_is_locked_at_its_installed_version():
    """The lock is complete: nothing that the project needs here, at any depth, is missing from it. A local build
    of a locked version (PyTorch's CPU wheel, 2.14.1+cpu) counts as that version."""
    lock = lock_pins()
    installed = installed_requirements()
    assert {"torch", "numpy", "snakemake", "pytest-xdist", "execnet"} <= set(installed)
    differ = {name: (version, lock.get(name)) for name, version in installed.items()
              if lock.get(name) is None or Version(version).public != Version(lock[name]).public}  # fmt: skip
    assert not differ, f"installed and requirements.lock differ ({{package: (installed, lock)}}): {differ}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_setup_installs_from_the_lock_and_again_when_it_changes(tmp_path):
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy2(REPO / name, tmp_path / name)
    stamp = tmp_path / "venv/.installed"
    stamp.parent.mkdir()
    stamp.touch()
    os.utime(tmp_path / "pyproject.toml", (1e9, 1e9))
    os.utime(tmp_path / "requirements.lock", (1e9, 1e9))
    os.utime(stamp, (1.5e9, 1.5e9))

    def dry_run() -> str:
        done = subprocess.run(["make", "-n", "setup", "VENV=venv"], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "pip install" not in dry_run()  # up to date
    os.utime(tmp_path / "requirements.lock", (1.7e9, 1.7e9))
    installs = [line for line in dry_run().splitlines() if "pip install" in line]
    assert len(installs) == 2 and all("-c requirements.lock" in line for line in installs), installs
    assert "--build-constraint requirements.lock" in installs[1] and '-e ".[test]"' in installs[1]
