"""The ledger over HTTP: the checkpoint for anyone; entries and proofs for peer nodes
(signed requests) and auditors; cosignatures from witnessing peers."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from jembatan.ledger import services
from jembatan.ledger.witness import member_keys
from jembatan.registry.peers import Peer, signed_peer
from jembatan.web.security import node_of, require_scope

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
fed_router = APIRouter(prefix="/fed/v1/ledger", tags=["federation"])
NOTE_TYPE = "text/plain; charset=utf-8"


async def ledger_reader(request: Request) -> str:
    """A peer node signing its request, or a user holding the ledger:read scope."""
    if "signature" in request.headers:
        peer = await signed_peer(request)
        return "peer:" + peer.member
    caller = await run_in_threadpool(require_scope("ledger:read"), request)
    return "user:" + caller.user.username


Reader = Annotated[str, Depends(ledger_reader)]


@router.get("/checkpoint", summary="The latest signed checkpoint with its cosignatures")
def checkpoint(request: Request) -> PlainTextResponse:
    text = services.current_checkpoint(node_of(request))
    return PlainTextResponse(text, media_type=NOTE_TYPE, headers={"Cache-Control": "no-cache"})


@router.get("/entries", summary="Entries [start, end), at most 1000 per answer")
def entries(
    request: Request, reader: Reader, start: Annotated[int, Query()], end: Annotated[int, Query()]
) -> dict[str, Any]:
    rows = services.entries(node_of(request), start, end)
    return {"entries": [{"index": i, "data": base64.b64encode(d).decode()} for i, d in rows]}


@router.get("/proof/inclusion", summary="RFC 9162 inclusion proof of entry `index` in tree `size`")
def inclusion(
    request: Request, reader: Reader, index: Annotated[int, Query()], size: Annotated[int, Query()]
) -> dict[str, Any]:
    proof = services.prove_inclusion(node_of(request), index, size)
    return {"index": index, "size": size, "hashes": services.b64(proof)}


@router.get("/proof/consistency", summary="RFC 9162 consistency proof between two tree sizes")
def consistency(
    request: Request,
    reader: Reader,
    old: Annotated[int, Query(alias="from")],
    new: Annotated[int, Query(alias="to")],
) -> dict[str, Any]:
    proof = services.prove_consistency(node_of(request), old, new)
    return {"from": old, "to": new, "hashes": services.b64(proof)}


@fed_router.post("/cosignatures", summary="A witness hands over its cosignature of a checkpoint")
async def cosignatures(
    request: Request, peer: Annotated[Peer, Depends(signed_peer)]
) -> dict[str, int]:
    node = node_of(request)
    text = (await request.body()).decode("utf-8", "replace")
    size = await run_in_threadpool(
        lambda: services.add_cosignature(node, peer.member, text, member_keys(node, peer.member))
    )
    return {"size": size}
