"""HTTP endpoints: the registry's (directory, anchor, join, rotation), every node's public
facts, and the signed federation endpoints."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import jembatan
from jembatan.errors import InvalidInput
from jembatan.node.context import Node
from jembatan.registry import authority, membership
from jembatan.registry.peers import Peer, signed_peer
from jembatan.web.security import ApiCaller, node_of, require_scope

JOSE = "application/jose"
registry_router = APIRouter(prefix="/registry/v1", tags=["registry"])
public_router = APIRouter(tags=["federation"])
fed_router = APIRouter(prefix="/fed/v1", tags=["federation"], dependencies=[Depends(signed_peer)])
api_router = APIRouter(prefix="/api/v1", tags=["federation"])


async def _jose_body(request: Request) -> str:
    if request.headers.get("content-type", "").split(";")[0].strip() != JOSE:
        raise InvalidInput("send the request as a compact JWS with Content-Type application/jose")
    body = await request.body()
    if len(body) > 64 * 1024:
        raise InvalidInput("request too large")
    return body.decode("ascii", errors="replace").strip()


@registry_router.get(
    "/directory",
    summary="The signed member directory (compact JWS over RFC 8785 JSON)",
    response_class=Response,
    responses={200: {"content": {JOSE: {}}}},
)
def directory(request: Request) -> Response:
    signed = authority.current_directory(node_of(request))
    return Response(signed, media_type=JOSE, headers={"Cache-Control": "no-cache"})


@registry_router.get("/anchor", summary="The trust anchor (verify it out of band!)")
def anchor(request: Request) -> dict[str, Any]:
    return authority.anchor(node_of(request)).document()


@registry_router.post("/join-requests", status_code=202, summary="Ask to join (self-signed)")
async def join_request(request: Request) -> dict[str, Any]:
    proof = await _jose_body(request)
    made = await run_in_threadpool(authority.submit_join, node_of(request), proof)
    return {"id": made.id, "member": made.member_id, "status": made.status}


@registry_router.post("/key-rotations", summary="Announce new keys, signed by the current key")
async def key_rotation(request: Request) -> dict[str, Any]:
    proof = await _jose_body(request)
    kids = await run_in_threadpool(authority.accept_rotation, node_of(request), proof)
    return {"accepted": kids}


@registry_router.post("/services", summary="Announce the caller's services (RFC 9421-signed)")
async def announce_services(
    request: Request, peer: Annotated[Peer, Depends(signed_peer)]
) -> dict[str, Any]:
    try:
        announced = json.loads(await request.body())
    except ValueError:
        raise InvalidInput("the body must be JSON") from None
    listed = await run_in_threadpool(
        authority.set_services, node_of(request), peer.member, announced
    )
    return {"member": peer.member, "services": listed}


def well_known_document(node: Node) -> dict[str, Any]:
    keys = [dict(jwk) for jwk in node.keys().public] if node.keyring else []
    anchor = membership.own_anchor(node)
    return {
        "member": node.member_id,
        "name": node.name,
        "url": node.settings.base_url,
        "instance": anchor.instance if anchor else None,
        "software": {"name": "jembatan", "version": jembatan.__version__},
        "jwks": {"keys": keys},
    }


@public_router.get("/.well-known/jembatan", summary="This node's public facts and keys")
def well_known(request: Request) -> JSONResponse:
    return JSONResponse(
        well_known_document(node_of(request)), headers={"Cache-Control": "max-age=300"}
    )


@fed_router.post("/ping", summary="Signed echo: who the node verified you as")
def ping(request: Request, peer: Annotated[Peer, Depends(signed_peer)]) -> dict[str, str]:
    return {"from": peer.member, "kid": peer.kid, "to": node_of(request).member_id}


@api_router.get("/directory", summary="The members this node trusts, with directory status")
def directory_view(
    request: Request, caller: Annotated[ApiCaller, Depends(require_scope("directory:read"))]
) -> dict[str, Any]:
    node = node_of(request)
    view = membership.federation(node)
    return {
        "status": membership.directory_status(node),
        "instances": [
            {
                "instance": d.instance,
                "serial": d.serial,
                "members": [
                    {"id": m.id, "name": m.name, "country": m.country, "node_url": m.node_url}
                    for m in d.members.values()
                ],
            }
            for d in view.directories()
        ],
    }


# Registered last, so that any other /fed/ path also demands a signature before a 404.
fed_fallback_router = APIRouter(
    prefix="/fed", include_in_schema=False, dependencies=[Depends(signed_peer)]
)


@fed_fallback_router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
def fed_unknown(rest: str) -> None:
    from jembatan.errors import NotFound

    raise NotFound("no federation endpoint /fed/{rest}", rest=rest)
