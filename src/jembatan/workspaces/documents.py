"""Workspaces as JSON documents, the same for the API and the CLI's `--json`."""

from __future__ import annotations

from typing import Any

from jembatan.workspaces.models import Notification, WorkspaceEvent
from jembatan.workspaces.search import Hit
from jembatan.workspaces.services import View


def summary_doc(view: View) -> dict[str, Any]:
    state = view.state
    members = state.get("members", {})
    return {
        "id": view.id,
        "name": state.get("name", ""),
        "purpose": state.get("purpose", ""),
        "owner": state.get("owner", ""),
        "classification": state.get("classification", ""),
        "ceiling": state.get("ceiling"),
        "agreement": state.get("agreement"),
        "state_hash": view.state_hash,
        "role": view.role,
        "invitation": view.role is None,
        "members": {m: info["status"] for m, info in sorted(members.items())},
        "documents": len(state.get("documents", {})),
        "tasks": len(state.get("tasks", {})),
        "events": view.events,
        "waiting": view.waiting,
    }


def workspace_doc(view: View) -> dict[str, Any]:
    """Everything the person may see: the summary and the folded state."""
    state = view.state
    return {
        **summary_doc(view),
        "retention_days": state.get("retention_days"),
        "created_at": state.get("created_at"),
        "created_by": state.get("created_by"),
        "users": state.get("users", {}),
        "documents": [
            {"id": k, **d}
            for k, d in sorted(state.get("documents", {}).items(), key=lambda kv: kv[1]["title"])
        ],
        "tasks": [{"id": k, **t} for k, t in state.get("tasks", {}).items()],
        "milestones": [{"id": k, **m} for k, m in state.get("milestones", {}).items()],
        "comments": state.get("comments", []),
        "decisions": state.get("decisions", []),
        "hidden_documents": view.hidden_documents,
    }


def event_doc(row: WorkspaceEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "author": row.author,
        "user": row.user,
        "clock": row.clock,
        "at": row.at,
        "status": row.status,
        "reason": row.reason,
    }


def notification_doc(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "workspace": row.workspace_id,
        "event": row.event_id,
        "reason": row.reason,
        "text": row.text,
        "created_at": row.created_at.isoformat(),
        "read": row.read_at is not None,
    }


def hit_doc(hit: Hit) -> dict[str, Any]:
    return {
        "workspace": hit.workspace,
        "workspace_name": hit.workspace_name,
        "kind": hit.kind,
        "ref": hit.ref,
        "title": hit.title,
        "snippet": hit.snippet,
        "classification": hit.classification,
    }
