"""Helpers the browser tests share: the running demo's API, and waiting for a condition."""
from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

LOCALES = Path(__file__).resolve().parents[2] / "dashboards" / "web" / "static" / "js" / "locales"


class Demo:
    def __init__(self, base: str, keys: dict) -> None:
        self.base, self.keys = base, keys

    def key(self, who: str) -> str:
        if who in self.keys:
            return self.keys[who]
        return next(keys[who] for kind, keys in self.keys.items() if isinstance(keys, dict) and who in keys)

    def get(self, path: str, who: str = "admin", **params):
        response = httpx.get(f"{self.base}/api/v1{path}", params=params, timeout=10,
                             headers={"Authorization": f"Bearer {self.key(who)}"})
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict, who: str = "admin") -> httpx.Response:
        return httpx.post(f"{self.base}/api/v1{path}", json=body, timeout=10,
                          headers={"Authorization": f"Bearer {self.key(who)}"})


def wait_until(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if found := condition():
                return found
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def catalogue(language: str) -> dict[str, str]:
    """A dashboard message catalogue (js/locales/<language>.js: `export default {JSON};`)."""
    text = (LOCALES / f"{language}.js").read_text(encoding="utf-8")
    body = text.split("export default", 1)[1].strip()
    return json.loads(body.removesuffix(";"))
