"""Every command-line error is one line in one format; --version answers."""
from __future__ import annotations

import subprocess
import sys

import pytest


def pledgewatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args, named", [
    (["bogus"], "No such command 'bogus'"),
    (["backend", "--colour"], "No such option '--colour'"),
    (["backend", "--config", "/no/such/file.yaml"], "/no/such/file.yaml"),
    (["scenario", "run", "/no/such/scenario.yaml"], "/no/such/scenario.yaml"),
])
def test_a_bad_command_line_is_one_line_naming_what_is_wrong(args, named):
    done = pledgewatch(*args)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("pledgewatch: ") and named in line


def test_version():
    from importlib.metadata import version
    done = pledgewatch("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"pledgewatch {version('pledgewatch')}"
