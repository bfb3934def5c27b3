"""The three ways to set up (pip, conda, CI) ask for the same packages and run the same command."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: conda-forge names that differ from PyPI's.
CONDA_TO_PYPI = {"python-duckdb": "duckdb", "redis-py": "redis"}
#: extras expand to these packages on conda-forge.
EXTRAS = {"fakeredis[lua]": ["fakeredis", "lupa"], "psycopg[binary]": ["psycopg"]}


def split(requirement):
    name, spec = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement.strip()).groups()
    return name.lower(), spec.replace(" ", "")


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, spec = split(requirement)
        for expanded in EXTRAS.get(name, [name]):
            wanted[expanded] = spec if expanded == name.split("[")[0] else ""
    return wanted


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and dep != "pip" and not re.match(r"^python\b[^-]", dep):
            name, spec = split(dep)
            found[CONDA_TO_PYPI.get(name, name)] = spec
    return env, found


def test_environment_yml_lists_the_pyproject_packages_with_the_same_bounds():
    env, found = conda_requirements()
    assert env["name"] == "minicluster"
    assert "conda-forge" in env["channels"]
    assert found == pyproject_requirements()


def test_environment_yml_python_matches_requires_python():
    env, _ = conda_requirements()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"python{requires}" in env["dependencies"]


def test_the_pip_section_installs_the_way_conda_runs_it(tmp_path):
    """conda writes the pip list to a requirements file beside environment.yml and runs `pip install -r`."""
    env, _ = conda_requirements()
    pip_section = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    requirements = ROOT / f".condaenv-test-{tmp_path.name}.requirements.txt"
    requirements.write_text("\n".join(pip_section) + "\n")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--no-deps",
                "-r",
                str(requirements),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        requirements.unlink()
    assert done.returncode == 0, done.stderr
    assert "minicluster" in done.stdout


def test_readme_and_ci_run_the_same_two_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = 'pip install -e ".[test]" && pytest'
    assert "pip install -e . && jupyter lab" in readme
    assert "jupyter lab notebooks/" not in readme, "Lab starts at the root, where exercises/ is reachable"
    assert test_command in readme
    assert test_command in ci
