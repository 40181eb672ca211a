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


def test_an_unusable_command_key_stops_the_backend_in_one_line(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "backend-command.key").write_text("not a key")
    config = tmp_path / "backend.yaml"
    config.write_text(f"data_dir: {tmp_path}\ndemo_mode: true\n")
    done = pledgewatch("backend", "--config", str(config))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("pledgewatch: data_dir: the backend command key keys/backend-command.key is unusable")


@pytest.mark.parametrize("timeseries, named", [
    ("{window: database}", "pledgewatch: timeseries.window: database needs database_url to be PostgreSQL"),
    ("{window: database, window_dir: /srv/w}", "timeseries.window_dir: only for timeseries.window: sqlite"),
])
def test_a_database_window_without_postgresql_stops_the_backend_in_one_line(tmp_path, timeseries, named):
    config = tmp_path / "backend.yaml"
    config.write_text(f"data_dir: {tmp_path}\ndemo_mode: true\ntimeseries: {timeseries}\n")
    done = pledgewatch("backend", "--config", str(config))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("pledgewatch: ") and named in line
    assert not (tmp_path / "registry.sqlite").exists()  # refused before opening anything
