"""The pip-installable app ships every Python package it has."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_package_of_the_app_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "scheduler_monitor").rglob("__init__.py")
    }
    assert found <= listed
    assert config["package-dir"] == {
        "scheduler_monitor.templates": "templates",
        "scheduler_monitor.static": "static",
    }
