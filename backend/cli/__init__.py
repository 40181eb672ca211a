"""`pledgewatch`: one command, a subcommand per role or tool.

Heavy imports happen inside each subcommand so `pledgewatch --help` stays fast and a
gateway never loads the backend's web stack.
"""
from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys
import tempfile
from pathlib import Path

import click


class CliError(click.ClickException):
    """One clear line and exit status 2 (bad flag, bad file, bad config)."""

    exit_code = 2


def _logging(verbose: bool) -> None:
    """Text lines, or one JSON object per line with `pledgewatch --log-format json` (for a log
    shipper: alert and webhook lines then carry their fields, e.g. `alert.type`)."""
    level = logging.DEBUG if verbose else logging.INFO
    if click.get_current_context().find_root().params.get("log_format") != "json":
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return
    from pythonjsonlogger.json import JsonFormatter
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                       rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    logging.basicConfig(level=level, handlers=[handler])


def _not_yet(what: str) -> None:
    click.echo(f"pledgewatch: {what} is not available yet", err=True)
    sys.exit(2)


class _OneLineErrors(click.Group):
    """Every error a command line can meet (a bad flag, an unknown subcommand, a bad file or
    config) is one line, `pledgewatch: ...`, with click's exit status (2 for usage)."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.Abort:
            click.echo("pledgewatch: stopped", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            click.echo(f"pledgewatch: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


# Subcommands defined with their role, imported only when named (module, attribute, one-line help
# for `pledgewatch --help`): a gateway, installed with the `edge` extra, lacks what they import.
LAZY_COMMANDS = {"scenario": ("backend.scenario.cli", "scenario", "What-if runs of a collateral book in simulated time.")}


class _MainGroup(_OneLineErrors):
    def list_commands(self, ctx):
        return sorted([*self.commands, *LAZY_COMMANDS])

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attribute, _ = LAZY_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        """As click's, but a lazy subcommand shows its help from the table, unimported."""
        names = [name for name in self.list_commands(ctx) if name in LAZY_COMMANDS or not self.commands[name].hidden]
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self.commands[name].get_short_help_str(limit) if name in self.commands
                 else click.utils.make_default_short_help(LAZY_COMMANDS[name][2], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_MainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pledgewatch", prog_name="pledgewatch", message="%(prog)s %(version)s")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log lines as text, or as one JSON object per line.")
def main(log_format) -> None:
    """PledgeWatch: watch the goods that secure loans, and tell the bank when they slip."""


config_option = click.option("--config", "config_path", required=True,
                             type=click.Path(exists=True, dir_okay=False, path_type=Path),
                             help="YAML config file (PW_* environment variables override it).")


def _load(settings_cls, path: Path, **overrides):
    from edge.protocol.settings import ConfigError, load_settings
    try:
        return load_settings(settings_cls, path, **overrides)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc


@main.command()
@click.option("--port", default=8000, show_default=True, help="HTTP port (or the next free one).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep everything the demo makes here (default: a fresh temporary folder).")
@click.option("--write-config", "write_config", type=click.Path(file_okay=False, path_type=Path),
              help="Write the demo's config for every role into DIR, with a README, and exit.")
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option("--confirmation-s", type=click.IntRange(1, 900), default=120, show_default=True,
              help="How long a condition must hold before its alert opens (alerts resolve after half "
                   "of it); shorter for a rehearsal or a test.")
@click.option("--reporting-period-s", type=click.IntRange(5, 3600), default=60, show_default=True,
              help="Every device reports at least this often; the backend counts staleness in it.")
def demo(port, state_dir, write_config, duration, no_browser, confirmation_s, reporting_period_s) -> None:
    """Broker, backend and three simulated warehouses on this machine."""
    _logging(False)
    from backend.demo.setup import DemoPace
    pace = DemoPace(confirmation_s, reporting_period_s)
    if write_config:
        from backend.demo.broker import find_mosquitto
        from backend.demo.ports import first_free_port
        from backend.demo.setup import DemoPorts, load_seed, write_config_set
        ports = DemoPorts(broker=first_free_port(1883), http=first_free_port(port),
                          broker_protocol=5 if find_mosquitto() else 4)
        layout = write_config_set(write_config, ports, load_seed(), pace=pace)
        click.echo(f"wrote the demo set-up to {layout.root}; see {layout.root / 'README.md'}")
        return
    from backend.demo.run import DemoError, run_demo
    root = state_dir or Path(tempfile.mkdtemp(prefix="pledgewatch-demo-"))
    try:
        code = run_demo(root, port, duration, open_browser=not no_browser, echo=click.echo, pace=pace)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


@main.command()
@click.option("--config", "config_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The cluster's folder: cluster.yaml (written with its defaults when missing), "
                   "state, logs and cluster.json (where everything is).")
@click.option("--duration", type=float, help="Stop after this many seconds.")
def cluster(config_dir, duration) -> None:
    """Three NATS nodes, two backend hosts, PostgreSQL, the TSDB and the demo gateways on this machine."""
    _logging(False)
    from backend.demo.run import DemoError
    try:
        from backend.demo.cluster import run_cluster
        code = run_cluster(config_dir, duration, echo=click.echo)
    except DemoError as exc:
        raise CliError(str(exc)) from exc
    sys.exit(code)


@main.command()
@config_option
@click.option("--role", type=click.Choice(["ingest", "monitor", "api", "all"]), default=None,
              help="Run one role only (default: the roles in the config, all by default).")
@click.option("-v", "--verbose", is_flag=True)
def backend(config_path, role, verbose) -> None:
    """The backend: REST API, MQTT ingest and the monitor."""
    from backend.bootstrap import run_backend
    from backend.settings import ROLES, BackendSettings
    from edge.protocol.settings import ConfigError
    _logging(verbose)
    overrides = {} if role is None else {"roles": list(ROLES) if role == "all" else [role]}
    try:
        run_backend(_load(BackendSettings, config_path, **overrides))
    except ConfigError as exc:  # found while starting: the book, the admin key, the command key
        raise CliError(str(exc)) from exc


@main.command()
@config_option
@click.option("-v", "--verbose", is_flag=True)
def relay(config_path, verbose) -> None:
    """The webhook delivery relay on its own (the backend config; set webhooks.relay: false there)."""
    from backend.bootstrap import run_relay
    from backend.settings import BackendSettings
    _logging(verbose)
    run_relay(_load(BackendSettings, config_path))


@main.command()
@config_option
@click.option("-v", "--verbose", is_flag=True)
def edge(config_path, verbose) -> None:
    """One gateway agent: read devices, sign, buffer, publish."""
    from edge.agent import EdgeAgent
    from edge.config import EdgeSettings
    from edge.health import exit_for_restart
    from edge.outbox import OutboxUnavailable
    from edge.protocol.keys import KeyFileError
    _logging(verbose)
    settings = _load(EdgeSettings, config_path)
    try:
        agent = EdgeAgent(settings, on_stall=exit_for_restart)
    except (KeyFileError, OutboxUnavailable) as exc:
        raise CliError(str(exc)) from exc
    _run_until_signalled(agent.run())


def _run_until_signalled(coroutine) -> None:
    async def supervise():
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        await coroutine

    try:
        asyncio.run(supervise())
    except asyncio.CancelledError:
        pass


@main.group()
def sim() -> None:
    """Simulators: devices speaking real protocols, and a fleet load generator."""


@sim.command("devices")
@config_option
@click.option("-v", "--verbose", is_flag=True)
def sim_devices(config_path, verbose) -> None:
    """Simulated scales, probes and RFID readers for one gateway (Modbus TCP, LLRP).

    Prints the bound ports as one JSON line; faults go to the HTTP control port
    (see docs/edge.md)."""
    from firmware_sim.devices import SimDevicesSettings, run_devices
    _logging(verbose)
    settings = _load(SimDevicesSettings, config_path)
    try:
        _run_until_signalled(run_devices(settings, echo=lambda line: click.echo(line)))
    except OSError as exc:  # a port already taken, an unknown host
        raise CliError(f"sim devices: {exc}") from exc


@sim.command("fleet")
@click.option("--gateways", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--sensors", default=5, show_default=True, type=click.IntRange(1, 10_000),
              help="Sensors per gateway.")
@click.option("--rate", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Readings per second per sensor.")
@click.option("--broker", default="mqtt://127.0.0.1:1883", show_default=True)
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option("--keys-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Sign with <gateway>.key from here (made if missing).")
def sim_fleet(gateways, sensors, rate, broker, duration, keys_dir) -> None:
    """Publish signed wire-format messages as N gateways (a load generator)."""
    from firmware_sim.fleet import FleetError, run_fleet
    _logging(False)
    try:
        totals = run_fleet(broker, gateways, sensors, rate, duration, keys_dir)
    except FleetError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"published {totals.messages} messages, {totals.readings} readings")


@main.group()
def keys() -> None:
    """Key material."""


@keys.command("new-gateway")
@click.argument("gateway_id")
@click.option("--dir", "directory", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
def keys_new_gateway(gateway_id, directory) -> None:
    """Make an Ed25519 key pair for a gateway: <id>.key (private) and <id>.pub."""
    import re

    from edge.protocol.keys import KeyFileError, fingerprint_of_pem, new_key_pair
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", gateway_id):
        raise CliError(f"invalid gateway id {gateway_id!r}")
    try:
        private_path, public_path = new_key_pair(directory, gateway_id)
    except KeyFileError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"private key {private_path} (keep it on the gateway)\n"
               f"public key  {public_path} (register it with the backend), "
               f"fingerprint {fingerprint_of_pem(public_path.read_bytes())}")


@keys.command("new-api")
@click.option("--role", required=True,
              type=click.Choice(["admin", "supervisor", "lender", "borrower", "warehouse", "gateway"]))
@click.option("--name", required=True, help="Who or what will use it.")
@click.option("--lender", help="For --role lender: the lender it is bound to.")
@click.option("--borrower", help="For --role borrower: the borrower it is bound to.")
@click.option("--warehouse", "warehouses", multiple=True,
              help="For --role warehouse: a warehouse it keeps (repeatable).")
def keys_new_api(role, name, lender, borrower, warehouses) -> None:
    """An API key for the backend config: the key (shown once) and the entry to paste."""
    import yaml

    from backend.services.api_keys import hash_api_key, new_api_key
    from backend.settings import key_binding_problem
    problem = key_binding_problem(role, lender, borrower, list(warehouses))
    if problem:
        raise CliError(f"--role {role}: {problem} (--lender, --borrower, --warehouse)")
    key = new_api_key()
    entry = ({"name": name, "role": role, "key_hash": hash_api_key(key)} | ({"lender": lender} if lender else {})
             | ({"borrower": borrower} if borrower else {}) | ({"warehouses": list(warehouses)} if warehouses else {}))
    click.echo(f"key (give it to its user; it is not stored anywhere): {key}\n"
               f"add under api_keys: in the backend config:\n"
               + yaml.safe_dump([entry], sort_keys=False))


@main.command("mqtt-acl")
@config_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to write dynamic-security.json and mqtt-credentials.json.")
@click.option("--backend-user", default="pw-backend", show_default=True)
@click.option("--tls-host", "tls_hosts", multiple=True,
              help="Also make a CA, a server certificate for these names/IPs and a client "
                   "certificate per gateway (CN = gateway id). Repeatable.")
def mqtt_acl(config_path, out_dir, backend_user, tls_hosts) -> None:
    """Per-gateway MQTT credentials for Mosquitto, from the backend config's gateways."""
    from backend.adapters.mosquitto_auth import write_auth_files, write_tls_files
    from backend.settings import BackendSettings
    settings = _load(BackendSettings, config_path)
    gateways = [g.id for g in settings.gateways]
    if not gateways:
        raise CliError(f"config {config_path}: gateways: none registered")
    auth = write_auth_files(out_dir, gateways, backend_user, settings.ingest.share_group)
    click.echo(f"wrote {auth.dynsec_file} (for Mosquitto's dynamic-security plugin) and "
               f"{auth.credentials_file} (passwords for {len(auth.credentials)} users; "
               f"give each gateway only its own)")
    if tls_hosts:
        tls = write_tls_files(out_dir / "tls", gateways, tuple(tls_hosts))
        click.echo(f"wrote a CA ({tls.ca_cert}), a server certificate and {len(tls.client_certs)} "
                   f"client certificates in {out_dir / 'tls'}")


@main.command()
@config_option
@click.option("--lender", help="Stress this lender's loans only (default: the whole book).")
@click.option("--shock", "shocks", multiple=True, metavar="NAME=±N%",
              help="A commodity (steel_coil=-20%) or an FX pair, 1 BASE = rate QUOTE (USD/CNY=+5%). Repeatable.")
@click.option("--lose", "lost", multiple=True, metavar="WAREHOUSE", help="A warehouse whose lots are worth 0. Repeatable.")
@click.option("--monte-carlo", "monte_carlo", is_flag=True, help="Also simulate price paths from the shocked book.")
@click.option("--horizon", default=30, show_default=True, type=click.IntRange(1, 365), help="Days.")
@click.option("--paths", default=1000, show_default=True, type=click.IntRange(10, 100_000))
@click.option("--seed", default=1, show_default=True, type=click.IntRange(0, 2 ** 32 - 1))
@click.option("--lookback", default=250, show_default=True, type=click.IntRange(2, 3650),
              help="Days of price history for the volatility and correlation.")
@click.option("--decay", default=0.94, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="EWMA λ.")
@click.option("--fallback-volatility", type=click.FloatRange(0, 1, min_open=True),
              help="Daily volatility for commodities without price history (else they are refused).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
def stress(config_path, lender, shocks, lost, monte_carlo, horizon, paths, seed, lookback, decay,
           fallback_volatility, as_json) -> None:
    """Portfolio stress test of the book in the backend's database (docs/stress.md)."""
    import json

    from backend.bootstrap import stress_service
    from backend.cli.stress_report import render_text
    from backend.domain.stress import StressError, parse_shock
    from backend.services.stress import MonteCarloRequest
    from backend.settings import BackendSettings
    service = stress_service(_load(BackendSettings, config_path))
    try:
        shock = parse_shock(shocks, lost)
        answer = {"shock": service.shock(shock, lender=lender), "monte_carlo": None}
        if monte_carlo:
            answer["monte_carlo"] = service.monte_carlo(MonteCarloRequest(
                shock=shock, horizon_days=horizon, paths=paths, seed=seed, lookback_days=lookback, decay=decay,
                fallback_volatility=fallback_volatility), lender=lender)
    except StressError as exc:
        raise CliError(str(exc)) from exc
    click.echo(json.dumps(answer, indent=1) if as_json else render_text(answer))


@main.group()
def report() -> None:
    """Reports of the book in the backend's database."""


@report.command("daily")
@config_option
@click.option("--lender", required=True, help="The lender whose report it is.")
@click.option("--date", "day", help="YYYY-MM-DD in the lender's time zone (default: its today).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write: .pdf or .html (or say --format).")
@click.option("--format", "form", type=click.Choice(["pdf", "html"]), help="Default: from --out's suffix.")
def report_daily(config_path, lender, day, out, form) -> None:
    """Write a lender's daily collateral report: the day's as kept, else today's as it stands (docs/reports.md)."""
    from backend.bootstrap import build_context
    from backend.services.reports import BadReportDate, ReportNotFound
    from backend.settings import BackendSettings
    form = form or out.suffix.lstrip(".").lower()
    if form not in ("pdf", "html"):
        raise CliError(f"--out {out}: say --format pdf or html (the suffix is neither)")
    context = build_context(_load(BackendSettings, config_path, roles=[]))
    try:
        made = context.reports.for_day(lender, day)
    except (ReportNotFound, BadReportDate) as exc:
        raise CliError(str(exc)) from exc
    finally:
        context.close()
    out.write_bytes(made.pdf if form == "pdf" else made.html.encode())
    digest = made.pdf_sha256 if form == "pdf" else made.html_sha256
    click.echo(f"wrote {out}: {made.lender} {made.date}, {made.loans} loans, "
               f"{'kept' if made.kept else 'preview'}, sha256 {digest}")


@main.group()
def evidence() -> None:
    """Dispute packs of the evidence log: export one, verify one offline."""


def _unix_s(text: str) -> int:
    """Unix seconds, or an ISO 8601 date or time (UTC unless it says otherwise)."""
    from datetime import datetime, timezone
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is neither unix seconds nor an ISO 8601 time") from exc
    return int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp())


@evidence.command("export")
@config_option
@click.option("--loan", required=True, help="The loan's id.")
@click.option("--from", "from_text", required=True, help="Start: unix seconds or ISO 8601 (UTC).")
@click.option("--to", "to_text", required=True, help="End: unix seconds or ISO 8601 (UTC).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The zip to write.")
def evidence_export(config_path, loan, from_text, to_text, out) -> None:
    """Write a loan's dispute pack (signs a checkpoint of the log as it is now)."""
    from backend.bootstrap import build_context
    from backend.services.evidence import EvidenceNotFound
    from backend.settings import BackendSettings
    from_s, to_s = _unix_s(from_text), _unix_s(to_text)
    if to_s < from_s:
        raise CliError("--to is before --from")
    context = build_context(_load(BackendSettings, config_path, roles=[]))
    try:
        summary = context.exporter.export(loan, from_s, to_s, str(out))
    except EvidenceNotFound as exc:
        raise CliError(str(exc)) from exc
    finally:
        context.close()
    click.echo(f"wrote {out}: loan {summary.loan}, {summary.entries} entries, {summary.envelopes} signed "
               f"envelopes, checkpoint of size {summary.head_size}")


@evidence.command("verify")
@click.argument("pack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--checkpoint", "kept", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint note your bank kept: the pack's log must extend it.")
@click.option("--log-key", help="The log's verifier key you trust (default: the one the pack names).")
def evidence_verify(pack, kept, log_key) -> None:
    """Check a dispute pack offline; exit 0 when everything holds, 1 naming each failure."""
    from backend.adapters.zip_pack import ZipPackReader
    from backend.services.evidence_pack import verify_pack
    reader = ZipPackReader(pack)
    try:
        verdict = verify_pack(reader, kept.read_text() if kept else None, log_key)
    finally:
        reader.close()
    for name, count in verdict.checked.items():
        click.echo(f"{name:>24}: {count}")
    for failure in verdict.failures:
        click.echo(f"FAIL {failure}")
    click.echo("pack verifies" if verdict.ok else f"pack does NOT verify: {len(verdict.failures)} failure(s)")
    sys.exit(0 if verdict.ok else 1)


@main.group()
def bench() -> None:
    """Benchmarks."""


@bench.command("ingest")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--messages", default=10_000, show_default=True, type=click.IntRange(100, 60_000),
              help="Signed 50-reading batches in the recorded stream.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 8),
              help="Ingest processes on the shared subscription.")
@click.option("--broker", "broker_kind", default="mosquitto", show_default=True,
              type=click.Choice(["mosquitto", "nats"]),
              help="nats: a three-node NATS JetStream cluster, MQTT 3.1.1 in, the JetStream ingest.")
def bench_ingest(as_json, messages, rounds, processes, broker_kind) -> None:
    """The ingest path against the broker's own delivery ceiling."""
    import json

    from backend.bench.ingest import BenchError, run_bench
    try:
        result = run_bench(messages, rounds, processes, broker_kind=broker_kind,
                           progress=lambda line: click.echo(f"bench: {line}", err=True))
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result))
    else:
        for name, value in result.items():
            click.echo(f"{name:>24}: {value}")


@bench.command("evidence")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--messages", default=10_000, show_default=True, type=click.IntRange(100, 60_000),
              help="Signed 50-reading batches per ingest round.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Ingest rounds with the log off and on each, interleaved.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 8))
@click.option("--days", default=30.0, show_default=True, type=click.FloatRange(0.001, 60),
              help="Length of the synthesized 1 Hz history the pack covers.")
@click.option("--skip-ingest", is_flag=True, help="Only the export.")
@click.option("--skip-export", is_flag=True, help="Only ingest with the log on and off.")
@click.option("--skip-bytes", is_flag=True, help="Do not measure the archive's bytes per reading.")
@click.option("--cpu", "cpu", is_flag=True, help="Also: the ingest service in a process of its own, log on and off, "
                                                 "CPU per reading (robust on a shared machine).")
@click.option("--verify", is_flag=True, help="Also time `evidence verify` on the pack.")
@click.option("--log-size", default=0, show_default=True, type=click.IntRange(0, 20_000_000),
              help="Ingest rounds start with a log of this many entries (an installation's log grows by one "
                   "a message).")
@click.option("--baseline", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A checkout of another version (e.g. `git worktree add DIR main`): its ingest, log on, "
                   "runs in the same interleaved rounds.")
def bench_evidence(as_json, messages, rounds, processes, days, skip_ingest, skip_export, skip_bytes, cpu,
                   verify, log_size, baseline) -> None:
    """The evidence log's cost: ingest with it on and off; bytes per reading; a dispute pack's export.
    Without --json, ends with the ingest figures as Markdown for docs/evidence.md."""
    import json

    from backend.bench.evidence import (
        markdown,
        run_bytes_per_reading,
        run_export_bench,
        run_ingest_compare,
        run_ingest_cpu_compare,
    )
    from backend.bench.ingest import BenchError

    def progress(line: str) -> None:
        click.echo(f"bench: {line}", err=True)

    result: dict = {}
    try:
        if not skip_bytes:
            result["bytes"] = run_bytes_per_reading()
        if not skip_ingest:
            result["ingest"] = run_ingest_compare(messages, rounds, processes, progress, log_size, baseline)
        if cpu:
            result["ingest_cpu"] = run_ingest_cpu_compare(messages, rounds, progress, log_size, baseline)
        if not skip_export:
            result["export"] = run_export_bench(days, verify, progress=progress)
    except BenchError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result))
        return
    for part, figures in result.items():
        for name, value in figures.items():
            if not name.endswith("figures"):
                click.echo(f"{part + '.' + name:>32}: {value}")
    args = sys.argv[3:]  # pledgewatch bench evidence ...; the baseline's path is the machine's, not the figure's
    args = ["BASELINE" if before == "--baseline" else "--baseline=BASELINE" if arg.startswith("--baseline=") else arg
            for before, arg in zip(["", *args], args)]
    command = " ".join(["pledgewatch bench evidence", *args])
    if text := markdown(result, command):
        click.echo("\n" + text)

