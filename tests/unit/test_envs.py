"""envs/*.yaml (conda) pin exactly what pyproject.toml pins."""

from __future__ import annotations

import tomllib

import yaml

from conftest import REPO


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        name, sep, version = requirement.partition("==")
        assert sep, f"pyproject.toml: {requirement!r} is not pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def test_torch_pins():
    pins = pyproject_pins()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_conda_envs_agree_with_pyproject():
    pins = pyproject_pins()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
        env_pins = {}
        for requirement in pip:
            name, sep, version = requirement.partition("==")
            assert sep, f"{env.name}: {requirement!r} is not pinned with =="
            env_pins[name.strip().lower()] = version.strip()
        assert env_pins == pins, f"{env.name} disagrees with pyproject.toml"
        python = [d for d in spec["dependencies"] if isinstance(d, str) and d.startswith("python")]
        assert python == ["python =3.11"]
