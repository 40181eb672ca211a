"""Mosquitto credentials and ACLs (its dynamic-security plugin), and a small TLS PKI, for
per-gateway MQTT accounts.

A gateway logs in with its own id as user name AND client id (the plugin refuses any other
client id, so no one can kick a gateway off by taking its id). It may publish only
`data`, `state`, `heartbeat` and `cmd-result` under `pw/v1/<its id>/`, and subscribe to
and receive only its own `ack` and `cmd`: no wildcard, no `$share`. The backend's user reads
every gateway's data, state, heartbeat and cmd-result (directly or in its ingest share
group) and writes acks and commands. Everything else is denied by default. The plugin is
used rather than an acl_file because Mosquitto 2.0's acl_file grants every subscription,
`$share/...` included, and only filters deliveries: a gateway in the ingest share group
would take its round-robin share of every gateway's data and the broker would drop it.
"""
from __future__ import annotations

import base64
import datetime
import glob
import hashlib
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge import protocol

PBKDF2_ITERATIONS = 101  # what mosquitto_passwd and mosquitto_ctrl write
DYNSEC_PLUGIN = "mosquitto_dynamic_security.so"
GATEWAY_WRITES = protocol.FROM_GATEWAY  # docs/protocol.md: gateway → backend
GATEWAY_READS = protocol.TO_GATEWAY  # backend → gateway


def password_fields(password: str, salt: bytes | None = None) -> dict:
    """A password as the dynamic-security plugin stores it: PBKDF2-SHA512, 12-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return {"password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": PBKDF2_ITERATIONS}


def _allow(acltype: str, topic: str) -> dict:
    return {"acltype": acltype, "topic": topic, "allow": True}


def gateway_role(gateway: str) -> dict:
    acls = [_allow("publishClientSend", protocol.topic(gateway, channel)) for channel in GATEWAY_WRITES]
    for channel in GATEWAY_READS:
        acls += [_allow("subscribeLiteral", protocol.topic(gateway, channel)),
                 _allow("publishClientReceive", protocol.topic(gateway, channel))]
    return {"rolename": f"gateway-{gateway}", "acls": acls}


def backend_role(share_group: str) -> dict:
    acls = [_allow("publishClientSend", protocol.subscription(channel)) for channel in GATEWAY_READS]
    for channel in GATEWAY_WRITES:
        acls += [_allow("subscribePattern", protocol.subscription(channel)),
                 _allow("subscribePattern", protocol.subscription(channel, share_group)),
                 _allow("publishClientReceive", protocol.subscription(channel))]
    return {"rolename": "backend", "acls": acls}


def dynsec_config(credentials: dict[str, str], backend_user: str, share_group: str) -> dict:
    """The plugin's whole state: one client per user, gateways bound to their client id."""
    clients = [{"username": backend_user, **password_fields(credentials[backend_user]),
                "roles": [{"rolename": "backend"}]}]
    clients += [{"username": gw, "clientid": gw, **password_fields(password),
                 "roles": [{"rolename": f"gateway-{gw}"}]}
                for gw, password in credentials.items() if gw != backend_user]
    roles = [backend_role(share_group)] + [gateway_role(c["username"]) for c in clients[1:]]
    return {"defaultACLAccess": {"publishClientSend": False, "publishClientReceive": False,
                                 "subscribe": False, "unsubscribe": True},
            "clients": clients, "groups": [], "roles": roles}


def find_dynsec_plugin() -> str | None:
    """The plugin shipped with Mosquitto 2 (Debian: libmosquitto's multiarch lib dir)."""
    for pattern in (f"/usr/lib/*/{DYNSEC_PLUGIN}", f"/usr/lib/{DYNSEC_PLUGIN}", f"/usr/local/lib/{DYNSEC_PLUGIN}",
                    f"/usr/lib/*/mosquitto/{DYNSEC_PLUGIN}"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


@dataclass(frozen=True)
class AuthFiles:
    dynsec_file: Path  # the plugin's config: users, password hashes, roles (mode 600)
    credentials_file: Path  # user -> password in clear, mode 600: hand each to its owner
    credentials: dict[str, str]


def write_auth_files(out_dir: Path, gateways: list[str], backend_user: str,
                     share_group: str = "pw-ingest") -> AuthFiles:
    """Write the files; passwords already in the credentials file are kept."""
    out_dir.mkdir(parents=True, exist_ok=True)
    credentials_file = out_dir / "mqtt-credentials.json"
    known = json.loads(credentials_file.read_text()) if credentials_file.exists() else {}
    credentials = {user: known.get(user) or secrets.token_urlsafe(24) for user in [backend_user, *gateways]}
    _write_private(credentials_file, json.dumps(credentials, indent=2) + "\n")
    dynsec_file = out_dir / "dynamic-security.json"
    _write_private(dynsec_file, json.dumps(dynsec_config(credentials, backend_user, share_group), indent=2) + "\n")
    return AuthFiles(dynsec_file, credentials_file, credentials)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


# ------------------------------------------------------------------------ TLS

@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_certs: dict[str, tuple[Path, Path]]  # gateway -> (cert, key)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer_name: x509.Name, issuer_key, is_ca: bool,
                 hosts: tuple[str, ...] = ()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=825))
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
    if hosts:
        names = [x509.IPAddress(ipaddress.ip_address(h)) if h.replace(".", "").isdigit() else x509.DNSName(h)
                 for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _save(directory: Path, stem: str, cert: x509.Certificate, key) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()).decode())
    return cert_path, key_path


def write_tls_files(out_dir: Path, gateways: list[str], server_hosts: tuple[str, ...]) -> TlsFiles:
    """A CA, a server certificate for `server_hosts`, and a client certificate per gateway
    whose common name is the gateway id (Mosquitto's use_identity_as_username)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("PledgeWatch MQTT CA", ca_key, _name("PledgeWatch MQTT CA"), ca_key, True)
    ca_path, _ = _save(out_dir, "ca", ca_cert, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(server_hosts[0], server_key, ca_cert.subject, ca_key, False, server_hosts)
    server_cert_path, server_key_path = _save(out_dir, "server", server_cert, server_key)
    clients = {}
    for gateway in gateways:
        key = ec.generate_private_key(ec.SECP256R1())
        clients[gateway] = _save(out_dir, f"client-{gateway}",
                                 _certificate(gateway, key, ca_cert.subject, ca_key, False), key)
    return TlsFiles(ca_path, server_cert_path, server_key_path, clients)


def mosquitto_listeners(port: int, auth: AuthFiles, tls: TlsFiles | None, tls_port: int | None,
                        plugin: str) -> str:
    """The listener part of mosquitto.conf that uses the files above. On the TLS listener the
    certificate names the user and the user names the client id (the plugin's own client-id
    check runs only for password log-ins)."""
    text = (f"per_listener_settings false\nallow_anonymous false\n"
            f"plugin {plugin}\nplugin_opt_config_file {auth.dynsec_file}\n"
            f"listener {port} 127.0.0.1\n")
    if tls is not None and tls_port is not None:
        text += (f"listener {tls_port} 127.0.0.1\ncafile {tls.ca_cert}\ncertfile {tls.server_cert}\n"
                 f"keyfile {tls.server_key}\nrequire_certificate true\nuse_identity_as_username true\n"
                 f"use_username_as_clientid true\n")
    return text
