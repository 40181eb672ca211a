"""The deploy/ files call commands and options the CLI really has (they are not run here)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from backend.cli import main
from backend.settings import ROLES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def invocations() -> list[list[str]]:
    """Argument lists given to `pledgewatch` in the systemd units and the compose file."""
    found = []
    for unit in (DEPLOY / "systemd").glob("*.service"):
        for line in re.findall(r"^ExecStart=(.*)$", unit.read_text(), re.M):
            words = shlex.split(line.replace("%i", "ingest-1").replace("%%", "%"))  # systemd's escapes
            if words[0] == "/bin/sh":  # sh -c '... --role "${0%%-*}"' INSTANCE: the role is INSTANCE up to '-'
                words = shlex.split(words[2].replace('"${0%%-*}"', words[3].split("-")[0]))
            found.append(words[words.index(next(w for w in words if w.endswith("/pledgewatch"))) + 1:])
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    found += [service["command"] for service in compose["services"].values()
              if service.get("build") and "command" in service]
    return found


def test_every_invocation_names_a_real_subcommand_options_and_role():
    calls = invocations()
    assert len(calls) >= 5
    for args in calls:
        command = main.commands[args[0]]
        known = {opt for param in command.params for opt in param.opts}
        options = [word for word in args[1:] if word.startswith("--")]
        assert set(options) <= known, (args, known)
        if "--role" in args:
            role = args[args.index("--role") + 1]
            assert role in ROLES, args
