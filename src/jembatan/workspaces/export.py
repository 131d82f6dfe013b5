"""Export: a workspace as one zip archive a person can keep or hand to an archive service:
the folded state, every signed event (checkable with the authors' keys), each document
version the person may read, and a manifest with the SHA-256 of everything in it."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from datetime import datetime
from typing import Any, BinaryIO, cast

from sqlalchemy import select

from jembatan.crypto.canonical import canonical_json
from jembatan.errors import Forbidden
from jembatan.exchange.envelope import cleared_labels
from jembatan.ledger.entries import Event as Entry
from jembatan.ledger.entries import record, user_actor
from jembatan.node.context import Node
from jembatan.registry.directory import stamp
from jembatan.store.schema import utcnow
from jembatan.workspaces import files, services
from jembatan.workspaces.models import WorkspaceEvent
from jembatan.workspaces.services import Person

FORMAT = "jembatan-workspace-export/1"
WORKSPACE_EXPORTED = "workspace.exported"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80] or "file"


def export(node: Node, workspace: str, person: Person, target: BinaryIO) -> dict[str, Any]:
    """Write the archive to `target` (streamed: documents go through in chunks); returns
    the manifest. Owners only; documents above the person's clearance stay out."""
    view = services.get(node, workspace, person)
    if view.role != "owner":
        raise Forbidden("only the workspace's owners may export it")
    labels = cleared_labels(person.clearance)
    entries: list[dict[str, Any]] = []
    now: datetime = utcnow()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def put(name: str, data: bytes) -> None:
            archive.writestr(name, data)
            entries.append(
                {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            )

        put("state.json", json.dumps(view.state, indent=2, sort_keys=True).encode())
        with node.db() as s:
            rows = s.execute(
                select(WorkspaceEvent.id, WorkspaceEvent.token, WorkspaceEvent.status)
                .where(WorkspaceEvent.workspace_id == workspace)
                .order_by(WorkspaceEvent.clock, WorkspaceEvent.author, WorkspaceEvent.id)
            ).all()
        lines = [json.dumps({"id": i, "status": st, "token": t}) for i, t, st in rows]
        put("events.jsonl", ("\n".join(lines) + "\n").encode())
        left_out = view.hidden_documents  # the view holds only what the person may read
        for doc_id, doc in view.state.get("documents", {}).items():
            if doc["classification"] not in labels:
                left_out += 1
                continue
            folder = f"documents/{_safe(doc['title'])}-{doc_id[:12]}"
            for version in doc["versions"]:
                if version.get("purged") or not files.held(node, workspace, version["sha256"]):
                    continue
                name = f"{folder}/v{version['n']}-{_safe(version['filename'])}"
                with archive.open(name, "w", force_zip64=True) as out:
                    size = files.write(node, workspace, version["sha256"], cast(BinaryIO, out))
                entries.append({"path": name, "sha256": version["sha256"], "size": size})
        manifest = {
            "format": FORMAT,
            "workspace": workspace,
            "name": view.state.get("name"),
            "state_hash": view.state_hash,
            "classification": view.state.get("classification"),
            "exported_at": stamp(now),
            "exported_by": user_actor(node.member_id, person.username),
            "node": node.member_id,
            "documents_left_out": left_out,
            "files": entries,
        }
        raw = canonical_json(manifest)
        archive.writestr("manifest.json", raw)
    with node.transaction() as s:
        record(
            s,
            Entry(
                WORKSPACE_EXPORTED,
                user_actor(node.member_id, person.username),
                workspace,
                {
                    "workspace": workspace,
                    "classification": view.state.get("classification"),
                    "files": len(entries),
                    "state_hash": view.state_hash,
                },
                {"manifest": hashlib.sha256(raw).hexdigest()},
            ),
        )
    return manifest
