"""The evidence log over HTTP (docs/evidence.md): checkpoints and consistency proofs for any
authenticated caller, inclusion proofs for entries about the caller's own loans, banks'
cosignatures, a loan's dispute pack; the public keys banks verify us with, unauthenticated."""
from __future__ import annotations

import base64
import os
import tempfile
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from backend.api.deps import Ctx, principal, require_role
from backend.services.api_keys import Principal
from backend.services.evidence import EvidenceConflict, EvidenceNotFound

router = APIRouter(tags=["evidence"])
DEFAULT_WINDOW_S = 30 * 86_400
MAX = 2**53 - 1  # sizes, indices and times the log holds exactly
Caller = Annotated[Principal, Depends(principal)]
Lender = Annotated[Principal, Depends(require_role("lender"))]


class CheckpointOut(BaseModel):
    origin: str
    size: int
    root_hash: str = Field(description="base64 RFC 9162 root of the first `size` entries")
    note: str = Field(description="the C2SP tlog-checkpoint signed note, with every cosignature stored")
    log_vkey: str = Field(description="the log's verifier key: <name>+<key id>+<base64(0x01 || Ed25519 key)>")
    signed_at_s: float


class ConsistencyOut(BaseModel):
    from_size: int = Field(alias="from")
    to_size: int = Field(alias="to")
    proof: list[str] = Field(description="RFC 9162 2.1.4 consistency proof, base64 hashes")


class InclusionOut(BaseModel):
    index: int
    size: int
    leaf: str = Field(description="the entry's canonical leaf bytes (UTF-8 JSON)")
    leaf_hash: str = Field(description="base64 SHA-256(0x00 || leaf)")
    proof: list[str] = Field(description="RFC 9162 2.1.3 inclusion proof, base64 hashes")
    checkpoint: str | None = Field(description="the signed checkpoint of that size, when the log signed one")


class CosignatureIn(BaseModel):
    note: Annotated[str, Field(max_length=20_000, description="our checkpoint note with your cosignature/v1 line added")]


class CosignatureOut(BaseModel):
    size: int
    witness: str
    timestamp_s: int


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@router.get("/api/v1/log/checkpoint", response_model=CheckpointOut)
def latest_checkpoint(caller: Caller, ctx: Ctx) -> CheckpointOut:
    """The latest signed checkpoint of the evidence log (signed now if there is none yet). Keep
    it: any later checkpoint must be provably consistent with it."""
    checkpoint = ctx.evidence.latest()
    return CheckpointOut(origin=ctx.evidence.verifier.name, size=checkpoint.size, root_hash=_b64(checkpoint.root_hash),
                         note=ctx.evidence.with_cosignatures(checkpoint), log_vkey=ctx.evidence.verifier.vkey(),
                         signed_at_s=checkpoint.signed_at_s)


@router.get("/api/v1/log/consistency", response_model=ConsistencyOut, response_model_by_alias=True)
def consistency(caller: Caller, ctx: Ctx, from_size: Annotated[int, Query(alias="from", ge=0, le=MAX)] = 0,
                to_size: Annotated[int | None, Query(alias="to", ge=0, le=MAX)] = None) -> dict:
    """Proof that the log of `from` entries (a checkpoint you kept) is a prefix of the log of
    `to` entries (default: the latest checkpoint). 409 when the log holds fewer than `from`:
    entries you saw are gone."""
    try:
        to_size, proof = ctx.evidence.consistency(from_size, to_size)
    except EvidenceConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    return {"from": from_size, "to": to_size, "proof": [_b64(h) for h in proof]}


@router.get("/api/v1/log/proof/{entry}", response_model=InclusionOut)
def inclusion(entry: Annotated[int, Path(ge=0, le=MAX)], caller: Caller, ctx: Ctx,
              size: Annotated[int | None, Query(ge=1, le=MAX, description="tree size; default: the latest checkpoint's")] = None
              ) -> InclusionOut:
    """The entry at index `entry` with its inclusion proof in the tree of `size` entries. A
    lender sees only entries about its own loans (their lots, gateways, commodities); others: 404."""
    try:
        answer = ctx.evidence.inclusion(caller, entry, size)
    except EvidenceNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except EvidenceConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    return InclusionOut(index=answer.index, size=answer.size, leaf=answer.leaf.decode(),
                        leaf_hash=_b64(answer.leaf_hash), proof=[_b64(h) for h in answer.proof],
                        checkpoint=answer.checkpoint)


@router.post("/api/v1/log/cosignatures", response_model=CosignatureOut, status_code=201)
def cosign(body: CosignatureIn, caller: Lender, ctx: Ctx) -> CosignatureOut:
    """Your bank's cosignature (C2SP tlog-cosignature, cosignature/v1) on one of our checkpoints,
    by a witness key configured for your lender (`evidence.witnesses`). Cosign only a checkpoint
    you proved consistent with the last one you cosigned."""
    try:
        stored = ctx.evidence.cosign(caller, body.note)
    except EvidenceConflict as exc:
        raise HTTPException(400, str(exc)) from exc
    return CosignatureOut(size=stored.size, witness=stored.witness, timestamp_s=stored.timestamp_s)


@router.get("/api/v1/loans/{loan_id}/evidence", response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}}, "description": "the dispute pack"}})
def dispute_pack(loan_id: str, caller: Caller, ctx: Ctx,
                 from_s: Annotated[int | None, Query(alias="from", ge=0, le=MAX // 1000, description="default: `to` - 30 days")] = None,
                 to_s: Annotated[int | None, Query(alias="to", ge=0, le=MAX // 1000, description="default: now")] = None
                 ) -> FileResponse:
    """The loan's dispute pack for [from, to] (unix seconds): its log entries with inclusion
    proofs, the checkpoints and cosignatures covering them, its lots' raw signed envelopes with
    the gateways' keys, prices and FX used, and report.html. Check it offline with
    `pledgewatch evidence verify pack.zip`."""
    to_s = int(ctx.clock()) if to_s is None else to_s
    from_s = max(0, to_s - DEFAULT_WINDOW_S) if from_s is None else from_s
    if to_s < from_s:
        raise HTTPException(400, "`to` is before `from`")
    handle, path = tempfile.mkstemp(prefix="pw-pack-", suffix=".zip")  # a pack may be far larger than memory
    os.close(handle)
    try:
        ctx.exporter.export_for(caller, loan_id, from_s, to_s, path)
    except EvidenceNotFound as exc:
        os.unlink(path)
        raise HTTPException(404, str(exc)) from exc
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(path, media_type="application/zip", filename=f"evidence-{loan_id}.zip",
                        background=BackgroundTask(os.unlink, path))


@router.get("/.well-known/pledgewatch/webhook-keys")
def webhook_keys(ctx: Ctx) -> dict:
    """The public keys of our webhook `v1a` signatures (Standard Webhooks `whpk_`), and the
    evidence log's verifier key. Public: banks fetch them to check what we send."""
    return {"webhook_keys": [{"alg": "ed25519", "key": key} for key in ctx.webhooks.public_keys()],
            "log_vkey": ctx.evidence.verifier.vkey()}
