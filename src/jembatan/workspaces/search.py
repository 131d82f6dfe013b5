"""Search over workspaces: each workspace's documents (with the text of their latest
version), comments, tasks, milestones and decisions, indexed by SQLite FTS5 or PostgreSQL
full-text search, and found only where the person is admitted and cleared."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, text
from sqlalchemy.orm import Session

from jembatan.exchange.envelope import cleared_labels
from jembatan.node.context import Node
from jembatan.workspaces.models import WorkspaceText

MAX_QUERY = 200
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    workspace: str
    workspace_name: str
    kind: str
    ref: str
    title: str
    snippet: str
    classification: str


def reindex(
    s: Session,
    workspace: str,
    state: dict[str, Any],
    texts: dict[str, str],
    refs: set[str] | None = None,
) -> None:
    """Replace the workspace's rows (or only those of `refs`) with what its state holds
    now. Rows are never updated in place: the SQLite index follows inserts and deletes
    by trigger."""
    if refs is not None and not refs:
        return
    gone = delete(WorkspaceText).where(WorkspaceText.workspace_id == workspace)
    if refs is not None:
        gone = gone.where(WorkspaceText.ref.in_(refs))
    s.execute(gone)
    if not state:
        return
    label = state["classification"]
    documents = state.get("documents", {})
    rows: list[dict[str, Any]] = []

    def add(kind: str, ref: str, classification: str, title: str, body: str) -> None:
        if refs is not None and ref not in refs:
            return
        rows.append(
            {
                "workspace_id": workspace,
                "kind": kind,
                "ref": ref,
                "classification": classification,
                "title": title[:300],
                "body": body,
            }
        )

    for ref, doc in documents.items():
        latest = doc["versions"][-1]
        comments = " ".join(v.get("comment", "") for v in doc["versions"])
        body = f"{latest.get('filename', '')} {comments} {texts.get(latest['sha256'], '')}"
        add("document", ref, doc["classification"], doc["title"], body)
    for c in state.get("comments", []):
        thread = documents.get(c["thread"])
        add("comment", c["id"], thread["classification"] if thread else label, "", c["text"])
    for ref, task in state.get("tasks", {}).items():
        add("task", ref, label, task["title"], task.get("description") or "")
    for ref, milestone in state.get("milestones", {}).items():
        add("milestone", ref, label, milestone["title"], milestone.get("description") or "")
    for d in state.get("decisions", []):
        add("decision", d["id"], label, d["title"], d["text"])
    if rows:
        s.execute(insert(WorkspaceText), rows)


# What an event changes in the index: the item it makes, or the one it edits (by body key).
_MAKES = {"document.uploaded", "comment.posted", "task.created", "milestone.created"}
_MAKES |= {"decision.recorded"}
_EDITS = {"document.versioned": "document", "task.updated": "task", "task.completed": "task"}
_EDITS |= {"milestone.updated": "milestone"}


def touched(type: str, event_id: str, body: dict[str, Any]) -> set[str]:
    """The refs whose rows an event changes (none for membership and settings)."""
    if type in _MAKES:
        return {event_id}
    key = _EDITS.get(type)
    return {str(body[key])} if key else set()


def _fts_query(query: str) -> str:
    """Words as quoted FTS5 terms, all required, the last one as a prefix: what a person
    types never becomes FTS5 syntax."""
    words = _WORD.findall(query)
    if not words:
        return ""
    terms = [f'"{w}"' for w in words]
    terms[-1] += "*"
    return " ".join(terms)


def _ts_query(query: str) -> str:
    """The same for PostgreSQL's to_tsquery: words joined by &, the last as a prefix."""
    words = [w.lower() for w in _WORD.findall(query)]
    return " & ".join([*words[:-1], f"{words[-1]}:*"]) if words else ""


def _plain(snippet: object) -> str:
    # ts_headline marks matches with <b>; pages show plain text (and escape it).
    return str(snippet or "").replace("<b>", "").replace("</b>", "")[:400]


def search(
    node: Node,
    query: str,
    workspaces: dict[str, str],
    clearance: str,
    limit: int = 50,
) -> list[Hit]:
    """Matches in these workspaces (id -> name; the caller passes those the person is
    admitted to) up to the person's clearance, best first."""
    query = query.strip()[:MAX_QUERY]
    labels = cleared_labels(clearance)
    if not query or not workspaces or not labels:
        return []
    params: dict[str, Any] = {
        "limit": min(limit, 200),
        "ids": list(workspaces),
        "labels": list(labels),
    }
    if node.engine.dialect.name == "postgresql":
        params["q"] = _ts_query(query)
        sql = _PG
    else:
        params["q"] = _fts_query(query)
        sql = _SQLITE
    if not params["q"]:
        return []
    with node.db() as s:
        rows = s.execute(sql, params).all()
    return [Hit(r[0], workspaces[r[0]], r[1], r[2], r[3], _plain(r[5]), r[4]) for r in rows]


_PG = text(
    "SELECT t.workspace_id, t.kind, t.ref, t.title, t.classification, "
    "ts_headline('simple', t.body, q, 'MaxWords=24, MinWords=8') "
    "FROM workspace_texts t, to_tsquery('simple', :q) q "
    "WHERE t.search @@ q AND t.workspace_id IN :ids AND t.classification IN :labels "
    "ORDER BY ts_rank(t.search, q) DESC, t.id LIMIT :limit"
).bindparams(bindparam("ids", expanding=True), bindparam("labels", expanding=True))
_SQLITE = text(
    "SELECT t.workspace_id, t.kind, t.ref, t.title, t.classification, "
    "snippet(workspace_texts_fts, 1, '', '', ' … ', 16) "
    "FROM workspace_texts_fts f JOIN workspace_texts t ON t.id = f.rowid "
    "WHERE workspace_texts_fts MATCH :q AND t.workspace_id IN :ids "
    "AND t.classification IN :labels ORDER BY f.rank, t.id LIMIT :limit"
).bindparams(bindparam("ids", expanding=True), bindparam("labels", expanding=True))
