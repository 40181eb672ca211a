"""The dispute pack's report.html: the loan's timeline for people (the proofs are beside it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Any, Mapping, Sequence

from backend.domain.evidence import Entry

_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;width:100%}"
          "td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}"
          "th{background:#f4f4f4}code{font-size:.9em}.kind{white-space:nowrap}")


@dataclass
class BatchDay:
    day_s: int
    gateway: str
    envelopes: int = 0


def _time(at_s: float) -> str:
    return datetime.fromtimestamp(at_s, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _what(entry: Entry) -> str:
    payload = entry.payload
    subjects = ", ".join(f"{name} {value}" for name, value in sorted(entry.subjects.items()))
    details = ", ".join(f"{name}: {value}" for name, value in sorted(payload.items())
                        if name not in ("details", "public_key"))
    return f"{subjects} — {details}" if details else subjects


def render_report(manifest: Mapping[str, Any], entries: Sequence[tuple[int, Entry]], days: Sequence[BatchDay],
                  head_note: str, earlier_sizes: Sequence[int]) -> str:
    rows = "".join(f"<tr><td>{_time(entry.at_s)}</td><td class=kind>{escape(entry.kind)}</td>"
                   f"<td>{escape(_what(entry))}</td><td>{index}</td></tr>" for index, entry in
                   sorted(entries, key=lambda item: (item[1].at_s, item[0])))
    batch_rows = "".join(f"<tr><td>{_time(day.day_s)[:10]}</td><td>{escape(day.gateway)}</td>"
                         f"<td>{day.envelopes}</td></tr>" for day in days)
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Dispute pack: loan "
            f"{escape(manifest['loan'])}</title><style>{_STYLE}</style></head><body>"
            f"<h1>Loan {escape(manifest['loan'])} ({escape(manifest['lender'])})</h1>"
            f"<p>From {_time(manifest['from_s'])} to {_time(manifest['to_s'])}; lots "
            f"{escape(', '.join(manifest['lots']))}; gateways {escape(', '.join(manifest['gateways']))}.</p>"
            f"<p>Every line below is an entry of PledgeWatch's evidence log, proven to be in the log "
            f"the checkpoint below signed (tree size {manifest['head_size']}). Check the whole pack with "
            f"<code>pledgewatch evidence verify pack.zip --checkpoint YOUR-CHECKPOINT</code>. The log "
            f"proves what was recorded and when it reached the log, not that a sensor told the truth.</p>"
            f"<h2>Timeline ({len(entries)} entries)</h2><table><tr><th>when</th><th>what</th><th>about</th>"
            f"<th>entry</th></tr>{rows}</table>"
            f"<h2>Signed readings ({manifest['envelopes']} envelopes)</h2><p>Raw messages as each gateway "
            f"signed them, in <code>batches.bin</code>, per day:</p><table><tr><th>day</th><th>gateway</th>"
            f"<th>envelopes</th></tr>{batch_rows}</table>"
            f"<h2>Checkpoint</h2><pre>{escape(head_note)}</pre>"
            f"<p>Earlier checkpoints proven consistent with it: {escape(', '.join(map(str, earlier_sizes)) or 'none')}."
            f"</p><p>Log key: <code>{escape(manifest['log_vkey'])}</code></p></body></html>")
