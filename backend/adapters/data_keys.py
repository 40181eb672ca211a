"""The backend's own Ed25519 keys in `<data_dir>/keys/<name>.key`, made (mode 600) on the
first start: documents, the evidence log's checkpoints, webhooks' `v1a` signatures."""
from __future__ import annotations

import logging
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.protocol.keys import load_private_key, new_key_pair

log = logging.getLogger("pledgewatch.keys")


def data_dir_key(data_dir: Path, name: str) -> Ed25519PrivateKey:
    path = data_dir / "keys" / f"{name}.key"
    if not path.exists():
        new_key_pair(path.parent, name)
        log.info("made the backend's %s key %s", name, path)
    return load_private_key(path)
