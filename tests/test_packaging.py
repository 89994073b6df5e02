"""The product's distribution is the product: one package, pbxops, and none of the simulator.

The simulator (sim/, package pbxsim) and the libraries only it uses are a project of their own;
a production install (`pip install .`, the product image) must not carry them. Checked from the
packaging configuration as setuptools reads it (building a wheel here would need the build
backend from the package index at test time)."""

import tomllib

from setuptools import find_packages

from tests.processes import ROOT

SIMULATOR_ONLY = {"sqlalchemy", "aiosmtpd"}


def _name(requirement: str) -> str:
    for stop in "<>=!~[; ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower()


def test_the_product_distribution_holds_only_pbxops_and_none_of_the_simulators_libraries():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = project["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(where=str(ROOT / found["where"][0]), include=found["include"])
    assert "pbxops" in packages and "pbxops.workflows" in packages
    assert {p.split(".")[0] for p in packages} == {"pbxops"}
    assert not any(p.startswith("pbxsim") for p in packages)
    assert "py-modules" not in project["tool"]["setuptools"]  # no top-level module either
    runtime = {_name(r) for r in project["project"]["dependencies"]}
    assert runtime & SIMULATOR_ONLY == set()
    simulator = tomllib.loads((ROOT / "sim" / "pyproject.toml").read_text())
    assert {_name(r) for r in simulator["project"]["dependencies"]} >= SIMULATOR_ONLY
