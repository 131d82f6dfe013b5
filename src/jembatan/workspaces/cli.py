"""`jembatan workspace create | list | show | invite | join | admit | task | milestone |
comment | decide | upload | download | progress | history | sync`: workspaces from the
command line, acting as one of the node's users (`--as`)."""

from __future__ import annotations

import mimetypes
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from jembatan.accounts.models import User
from jembatan.cli.common import DataDir, Json, clear_errors, open_node, print_json
from jembatan.errors import InvalidInput
from jembatan.node.context import Node
from jembatan.workspaces import export, notify, replication, services
from jembatan.workspaces.documents import event_doc, hit_doc, summary_doc, workspace_doc
from jembatan.workspaces.services import Person

workspace_app = typer.Typer(
    help="Workspaces shared with other governments: documents, discussions, tasks.",
    no_args_is_help=True,
)
task_app = typer.Typer(help="Tasks of a joint project.", no_args_is_help=True)
milestone_app = typer.Typer(help="Milestones of a joint project.", no_args_is_help=True)
workspace_app.add_typer(task_app, name="task")
workspace_app.add_typer(milestone_app, name="milestone")
webhook_app = typer.Typer(help="Agency systems told of each new event.", no_args_is_help=True)
workspace_app.add_typer(webhook_app, name="webhook")

As = Annotated[
    str, typer.Option("--as", help="The user of this node to act as.", show_default=True)
]
Ws = Annotated[str, typer.Argument(help="Workspace id (or a unique prefix of it).")]


def _person(node: Node, username: str) -> Person:
    with node.db() as s:
        user = s.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or user.disabled:
        raise InvalidInput("no enabled user {name} at this node; name one with --as", name=username)
    return Person.of(user)


def _view(data_dir: Path | None, ws: str, as_user: str) -> services.View:
    """One workspace as the user may see it, for the reading commands."""
    node = _reading(data_dir)
    try:
        return services.get(node, services.resolve(node, ws), _person(node, as_user))
    finally:
        node.close()


def _open(data_dir: Path | None) -> Node:
    """For a change (or a file's bytes): the keys are needed, asked for if not set."""
    return open_node(data_dir, unlock=True)


def _reading(data_dir: Path | None) -> Node:
    """For reading: with JEMBATAN_KEY_PASSPHRASE set, partners' messages are taken in
    first; without it, what the node holds (its periodic task takes them in)."""
    return open_node(data_dir)


@workspace_app.command("create")
@clear_errors
def create(
    name: Annotated[str, typer.Argument(help="The workspace's name.")],
    purpose: Annotated[str, typer.Option(help="What the workspace is for.")] = "",
    classification: Annotated[
        str, typer.Option(help="TLP label of its discussions and tasks.")
    ] = "TLP:AMBER",
    ceiling: Annotated[str | None, typer.Option(help="Highest TLP label of its documents.")] = None,
    retention_days: Annotated[
        int | None, typer.Option(help="Purge content older than this.")
    ] = None,
    agreement: Annotated[str | None, typer.Option(help="The agreement it is bound to.")] = None,
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Create a workspace owned by our organisation; the user becomes its first owner."""
    node = _open(data_dir)
    try:
        person = _person(node, as_user)
        wid = services.create(
            node, person, name, purpose, classification, ceiling, retention_days, agreement
        )
        view = services.get(node, wid, person)
    finally:
        node.close()
    if as_json:
        print_json(summary_doc(view))
    else:
        typer.echo(f"workspace {wid} created: {view.name}")


@workspace_app.command("list")
@clear_errors
def list_(
    as_user: Annotated[
        str | None, typer.Option("--as", help="Only what this user may see (default: all).")
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Workspaces held by this node, with their state hashes."""
    node = _reading(data_dir)
    try:
        person = _person(node, as_user) if as_user else None
        views = services.list_workspaces(node, person)
    finally:
        node.close()
    if as_json:
        print_json([summary_doc(v) for v in views])
        return
    for v in views:
        status = v.role or "invited"
        typer.echo(f"{v.id}  {v.state_hash[:16]}  {status:<8} {v.name}")


@workspace_app.command("show")
@clear_errors
def show(ws: Ws, as_user: As = "admin", data_dir: DataDir = None, as_json: Json = False) -> None:
    """One workspace: members, documents, tasks, milestones, discussion, decisions."""
    view = _view(data_dir, ws, as_user)
    doc = workspace_doc(view)
    if as_json:
        print_json(doc)
        return
    typer.echo(f"{doc['name']} ({doc['id']})  {doc['classification']}  state {doc['state_hash']}")
    for member, status in doc["members"].items():
        typer.echo(f"  member {member}: {status}")
    for d in doc["documents"]:
        typer.echo(f"  document {d['id'][:12]} {d['title']} (v{len(d['versions'])})")
    for t in doc["tasks"]:
        typer.echo(f"  task {t['id'][:12]} [{t['status']}] {t['title']}")
    for m in doc["milestones"]:
        typer.echo(f"  milestone {m['id'][:12]} {m['title']} {m.get('due') or ''}")


def _run(data_dir: Path | None, as_user: str, ws: str, action: str, **kwargs: object) -> str:
    """Run one action as the user; returns the new event's id."""
    node = _open(data_dir)
    try:
        person = _person(node, as_user)
        event = getattr(services, action)(node, services.resolve(node, ws), person, **kwargs)
    finally:
        node.close()
    return str(event.id)


def _done(event_id: str, what: str, as_json: bool) -> None:
    if as_json:
        print_json({"event": event_id})
    else:
        typer.echo(f"{what} ({event_id[:12]})")


@workspace_app.command("invite")
@clear_errors
def invite(
    ws: Ws,
    member: Annotated[str, typer.Argument(help="Member id of the organisation to invite.")],
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Invite another government's organisation (an agreement must cover it)."""
    _done(_run(data_dir, as_user, ws, "invite", member=member), f"{member} invited", as_json)


@workspace_app.command("join")
@clear_errors
def join(ws: Ws, as_user: As = "admin", data_dir: DataDir = None, as_json: Json = False) -> None:
    """Accept our organisation's invitation; the user becomes its owner here."""
    _done(_run(data_dir, as_user, ws, "join"), "joined", as_json)


@workspace_app.command("leave")
@clear_errors
def leave(ws: Ws, as_user: As = "admin", data_dir: DataDir = None, as_json: Json = False) -> None:
    """Take our organisation out of the workspace."""
    _done(_run(data_dir, as_user, ws, "leave"), "left", as_json)


@workspace_app.command("admit")
@clear_errors
def admit(
    ws: Ws,
    username: Annotated[str, typer.Argument(help="A user of this node.")],
    role: Annotated[str, typer.Option(help="owner, editor or viewer.")] = "editor",
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Let one of our users in with a role (or change their role)."""
    event = _run(data_dir, as_user, ws, "admit", username=username, role=role)
    _done(event, f"{username} is {role}", as_json)


@task_app.command("add")
@clear_errors
def task_add(
    ws: Ws,
    title: Annotated[str, typer.Option(help="What is to be done.")],
    description: Annotated[str, typer.Option(help="More detail.")] = "",
    assignee_member: Annotated[str | None, typer.Option(help="Organisation responsible.")] = None,
    assignee_user: Annotated[
        str | None, typer.Option(help="User responsible (at that member).")
    ] = None,
    due: Annotated[str | None, typer.Option(help="Due date, YYYY-MM-DD.")] = None,
    milestone: Annotated[str | None, typer.Option(help="Milestone id (or prefix).")] = None,
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add a task; it appears on every member's node."""
    event = _run(
        data_dir,
        as_user,
        ws,
        "add_task",
        title=title,
        description=description,
        assignee_member=assignee_member,
        assignee_user=assignee_user,
        due=due,
        milestone=milestone,
    )
    _done(event, f"task {event[:12]} added", as_json)


@task_app.command("update")
@clear_errors
def task_update(
    ws: Ws,
    task: Annotated[str, typer.Argument(help="Task id (or a prefix of 6 or more).")],
    title: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="open, in-progress, blocked or done.")] = None,
    due: Annotated[str | None, typer.Option(help="YYYY-MM-DD.")] = None,
    assignee_member: Annotated[str | None, typer.Option()] = None,
    assignee_user: Annotated[str | None, typer.Option()] = None,
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Change a task's fields."""
    event = _run(
        data_dir,
        as_user,
        ws,
        "update_task",
        task=task,
        title=title,
        status=status,
        due=due,
        assignee_member=assignee_member,
        assignee_user=assignee_user,
    )
    _done(event, "task updated", as_json)


@task_app.command("done")
@clear_errors
def task_done(
    ws: Ws,
    task: Annotated[str, typer.Argument(help="Task id (or a prefix of 6 or more).")],
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Mark a task done."""
    _done(_run(data_dir, as_user, ws, "complete_task", task=task), "task done", as_json)


@task_app.command("list")
@clear_errors
def task_list(
    ws: Ws, as_user: As = "admin", data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Tasks with their status, assignee and due date."""
    view = _view(data_dir, ws, as_user)
    tasks = workspace_doc(view)["tasks"]
    if as_json:
        print_json(tasks)
        return
    for t in tasks:
        who = t.get("assignee_user") or t.get("assignee_member") or "-"
        typer.echo(
            f"{t['id'][:12]}  {t['status']:<11} {t.get('due') or '-':<10} {who}  {t['title']}"
        )


@milestone_app.command("add")
@clear_errors
def milestone_add(
    ws: Ws,
    title: Annotated[str, typer.Option(help="The milestone.")],
    due: Annotated[str | None, typer.Option(help="YYYY-MM-DD.")] = None,
    description: Annotated[str, typer.Option()] = "",
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add a milestone that tasks can belong to."""
    event = _run(
        data_dir, as_user, ws, "add_milestone", title=title, due=due, description=description
    )
    _done(event, f"milestone {event[:12]} added", as_json)


@workspace_app.command("comment")
@clear_errors
def comment(
    ws: Ws,
    text: Annotated[str, typer.Argument(help="The comment; @name mentions a user.")],
    on: Annotated[str, typer.Option(help="A document or task id (default: the workspace).")] = "",
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Post to the workspace's discussion, or a document's or task's thread."""
    _done(_run(data_dir, as_user, ws, "comment", text=text, thread=on), "posted", as_json)


@workspace_app.command("decide")
@clear_errors
def decide(
    ws: Ws,
    title: Annotated[str, typer.Option(help="The decision in a line.")],
    text: Annotated[str, typer.Option(help="What was decided, and why.")],
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Record a decision."""
    _done(
        _run(data_dir, as_user, ws, "record_decision", title=title, text=text), "recorded", as_json
    )


@workspace_app.command("upload")
@clear_errors
def upload(
    ws: Ws,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The file.")],
    title: Annotated[str | None, typer.Option(help="Title (default: the file name).")] = None,
    classification: Annotated[str | None, typer.Option(help="TLP label of the document.")] = None,
    comment: Annotated[str, typer.Option(help="What this version changes.")] = "",
    document: Annotated[str | None, typer.Option(help="Add a version to this document.")] = None,
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Upload a document (or a new version of one); the file is streamed."""
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    with path.open("rb") as source:
        event = _run(
            data_dir,
            as_user,
            ws,
            "upload",
            source=source,
            filename=path.name,
            content_type=content_type,
            title=title,
            classification=classification,
            comment=comment,
            document=document,
        )
    _done(event, f"document {event[:12]} uploaded" if not document else "new version", as_json)


@workspace_app.command("download")
@clear_errors
def download(
    ws: Ws,
    document: Annotated[str, typer.Argument(help="Document id (or a prefix of 6 or more).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write it.")],
    version: Annotated[int | None, typer.Option(help="Version number (default: latest).")] = None,
    as_user: As = "admin",
    data_dir: DataDir = None,
) -> None:
    """Write one version of a document to a file, byte for byte."""
    node = _open(data_dir)
    try:
        person = _person(node, as_user)
        wid = services.resolve(node, ws)
        services.version_of(node, wid, person, document, version)  # refuse before writing
        with output.open("wb") as target:
            chosen = services.download(node, wid, person, document, version, target)
    finally:
        node.close()
    typer.echo(f"version {chosen['n']} ({chosen['size']} bytes, sha256 {chosen['sha256']})")


@workspace_app.command("progress")
@clear_errors
def progress(
    ws: Ws, as_user: As = "admin", data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Share of tasks done per milestone, and what is overdue."""
    view = _view(data_dir, ws, as_user)
    doc = services.progress(view.state, date.today().isoformat())
    if as_json:
        print_json(doc)
        return
    typer.echo(f"{doc['done']} of {doc['tasks']} tasks done ({doc['percent']}%)")
    for m in doc["milestones"]:
        late = "  OVERDUE" if m["overdue"] else ""
        share = f"{m['done']}/{m['tasks']} ({m['percent']}%)"
        typer.echo(f"  {m['title']}: {share} due {m['due'] or '-'}{late}")
    for t in doc["overdue"]:
        typer.echo(f"  overdue task: {t['title']} (due {t['due']})")


@workspace_app.command("history")
@clear_errors
def history(
    ws: Ws,
    limit: Annotated[int, typer.Option(help="How many events, newest first.")] = 50,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """The workspace's events as this node holds them, with any rejected and why."""
    node = _reading(data_dir)
    try:
        rows = services.history(node, services.resolve(node, ws), limit)
    finally:
        node.close()
    docs = [event_doc(r) for r in rows]
    if as_json:
        print_json(docs)
        return
    for d in docs:
        why = f"  ({d['reason']})" if d["reason"] else ""
        who = f"{d['author']}/user/{d['user']}"
        typer.echo(f"{d['clock']:>5} {d['at']} {who} {d['type']} {d['status']}{why}")


@workspace_app.command("export")
@clear_errors
def export_archive(
    ws: Ws,
    output: Annotated[Path, typer.Option("--output", "-o", help="The zip file to write.")],
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Export the workspace as a zip archive with a manifest of hashes (owners only)."""
    node = _open(data_dir)
    try:
        person = _person(node, as_user)
        wid = services.resolve(node, ws)
        tmp = output.with_name(output.name + ".part")
        try:
            with tmp.open("wb") as target:
                manifest = export.export(node, wid, person, target)
            tmp.replace(output)
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        node.close()
    if as_json:
        print_json(manifest)
    else:
        typer.echo(f"{output}: {len(manifest['files'])} files, state {manifest['state_hash']}")


@workspace_app.command("search")
@clear_errors
def search(
    query: Annotated[str, typer.Argument(help="Words to find (all must match).")],
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Search documents, discussions, tasks and decisions the user may see."""
    node = _reading(data_dir)
    try:
        hits = services.find_text(node, _person(node, as_user), query)
    finally:
        node.close()
    if as_json:
        print_json([hit_doc(h) for h in hits])
        return
    for h in hits:
        typer.echo(f"{h.workspace_name} · {h.kind} {h.ref[:12]} · {h.title}  {h.snippet}")


@webhook_app.command("add")
@clear_errors
def webhook_add(
    ws: Ws,
    url: Annotated[str, typer.Argument(help="Where to POST each new event.")],
    as_user: As = "admin",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Register an endpoint; prints its signing secret once (owners only)."""
    node = _open(data_dir)
    try:
        hook, secret = services.add_webhook(
            node, services.resolve(node, ws), _person(node, as_user), url
        )
    finally:
        node.close()
    if as_json:
        print_json({"id": hook.id, "url": hook.url, "secret": secret})
    else:
        typer.echo(f"webhook {hook.id}: {hook.url}\nsecret (shown once): {secret}")


@webhook_app.command("list")
@clear_errors
def webhook_list(
    ws: Ws, as_user: As = "admin", data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Endpoints of this workspace at this node."""
    node = _open(data_dir)
    try:
        hooks = services.list_webhooks(node, services.resolve(node, ws), _person(node, as_user))
    finally:
        node.close()
    docs = [notify.describe(h) for h in hooks]
    if as_json:
        print_json(docs)
        return
    for d in docs:
        typer.echo(f"{d['id']}  {d['url']}  ({d['created_by']})")


@webhook_app.command("remove")
@clear_errors
def webhook_remove(
    ws: Ws,
    hook_id: Annotated[int, typer.Argument(help="The webhook's number.")],
    as_user: As = "admin",
    data_dir: DataDir = None,
) -> None:
    """Stop telling an endpoint."""
    node = _open(data_dir)
    try:
        services.remove_webhook(node, services.resolve(node, ws), _person(node, as_user), hook_id)
    finally:
        node.close()
    typer.echo(f"webhook {hook_id} removed")


@workspace_app.command("sync")
@clear_errors
def sync(data_dir: DataDir = None) -> None:
    """Take in what partners sent and send what is ours (what `serve` does periodically)."""
    node = _open(data_dir)
    try:
        taken = replication.ingest(node)
        sent = replication.flush_all(node)
    finally:
        node.close()
    typer.echo(f"{taken} message(s) taken in, {sent} event(s) sent")
