"""Telling people and systems outside the portal: e-mail for notifications (when the node
has a mail server; content above TLP:GREEN never goes by mail, only a link), and webhooks
that POST each new event to an agency's system, signed as Standard Webhooks defines
(webhook-id, webhook-timestamp, webhook-signature: v1,base64(HMAC-SHA256))."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from jembatan.accounts.models import User
from jembatan.crypto.secretbox import SecretBox
from jembatan.errors import Forbidden, InvalidInput, NotFound
from jembatan.identifiers import uuid7
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.store.schema import utcnow
from jembatan.workspaces.events import Event
from jembatan.workspaces.models import Notification, Webhook, WebhookDelivery

log = get_logger("jembatan.workspaces")
MAIL_ATTEMPTS = 5
HOOK_ATTEMPTS = 10
HOOK_TIMEOUT = 10.0
PLAIN_LABELS = ("TLP:CLEAR", "TLP:GREEN")  # content with these labels may travel by e-mail
SECRET_PREFIX = "whsec_"  # noqa: S105  (Standard Webhooks' secret prefix, not a secret)


def _box(node: Node) -> SecretBox:
    return SecretBox(node.secret, "workspace webhooks")


# E-mail --------------------------------------------------------------------------------


def send_mail(node: Node, limit: int = 50) -> int:
    """Mail notifications not yet mailed to users with an address; tried again at the
    next tick on failure, given up after a few attempts. Returns how many went."""
    settings = node.settings
    if not settings.smtp_host:
        return 0
    with node.db() as s:
        due = list(
            s.execute(
                select(Notification, User.email, User.username)
                .join(User, User.id == Notification.user_id)
                .where(Notification.mailed.is_(None))
                .order_by(Notification.id)
                .limit(limit)
            ).all()
        )
    sent = 0
    for note, address, username in due:
        if not address:
            _mark(node, note.id, "skipped")
            continue
        try:
            _deliver_mail(node, address, username, note)
        except (OSError, smtplib.SMTPException) as exc:
            _mark(node, note.id, None, failed=True)
            log.warning("notification mail failed", user=username, reason=type(exc).__name__)
            continue
        _mark(node, note.id, "sent")
        sent += 1
    return sent


def _mark(node: Node, note_id: int, outcome: str | None, failed: bool = False) -> None:
    with node.transaction() as s:
        note = s.get(Notification, note_id)
        if note is None:
            return
        if failed:
            note.mail_attempts += 1
            if note.mail_attempts >= MAIL_ATTEMPTS:
                note.mailed = "failed"
        else:
            note.mailed = outcome


def _deliver_mail(node: Node, address: str, username: str, note: Notification) -> None:
    from jembatan.workspaces.models import Workspace

    settings = node.settings
    with node.db() as s:
        workspace = s.get(Workspace, note.workspace_id)
    label = workspace.classification if workspace else "TLP:AMBER"
    link = f"{settings.base_url}/workspaces/{note.workspace_id}"
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = address
    if label in PLAIN_LABELS:
        message["Subject"] = f"[Jembatan] {note.text[:120]}"
        body = f"{note.text}\n\n{link}\n"
    else:  # mail is not a secure channel: only that there is something, and where
        name = workspace.name if workspace else note.workspace_id
        message["Subject"] = f"[Jembatan] New in {name} ({label})"
        body = f"Something in {name} ({label}) concerns you. Read it in the portal:\n\n{link}\n"
    message.set_content(f"Hello {username},\n\n{body}")
    with smtplib.SMTP(settings.smtp_host or "", settings.smtp_port, timeout=20) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


# Webhooks ------------------------------------------------------------------------------


def add_webhook(node: Node, workspace: str, url: str, actor: str) -> tuple[Webhook, str]:
    """Register an endpoint; returns it and its secret (shown once, kept sealed)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or len(url) > 2000:
        raise InvalidInput("a webhook needs an http(s) URL")
    secret = SECRET_PREFIX + base64.b64encode(os.urandom(24)).decode()
    with node.transaction() as s:
        hook = Webhook(
            workspace_id=workspace,
            url=url.strip(),
            secret=_box(node).seal(secret),
            created_by=actor,
        )
        s.add(hook)
        s.flush()
    return hook, secret


def webhooks(node: Node, workspace: str) -> list[Webhook]:
    with node.db() as s:
        return list(s.scalars(select(Webhook).where(Webhook.workspace_id == workspace)))


def remove_webhook(node: Node, workspace: str, hook_id: int) -> None:
    with node.transaction() as s:
        hook = s.get(Webhook, hook_id)
        if hook is None or hook.workspace_id != workspace:
            raise NotFound("no webhook {id} in this workspace", id=hook_id)
        s.delete(hook)


def enqueue(s: Session, workspace: str, state_hash: str, applied: list[Event]) -> None:
    """One delivery per webhook and new event, in the transaction that stored it."""
    hooks = list(s.scalars(select(Webhook.id).where(Webhook.workspace_id == workspace)))
    for event in applied:
        payload = json.dumps(
            {
                "type": "workspace.event",
                "timestamp": event.at,
                "data": {
                    "workspace": workspace,
                    "state_hash": state_hash,
                    "event": {
                        "id": event.id,
                        "type": event.type,
                        "author": event.author,
                        "user": event.user,
                        "clock": event.clock,
                        "at": event.at,
                        "body": event.body,
                    },
                },
            },
            sort_keys=True,
        )
        for hook_id in hooks:
            s.add(
                WebhookDelivery(id=uuid7(), webhook_id=hook_id, event_id=event.id, payload=payload)
            )


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def deliver_hooks(node: Node, limit: int = 50) -> int:
    """POST what is due; a failure waits 30 s, 1 min, 2 min ... and gives up after ten."""
    now = utcnow()
    with node.db() as s:
        due = list(
            s.execute(
                select(WebhookDelivery, Webhook.url, Webhook.secret)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.status == "queued", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            ).all()
        )
    done = 0
    for delivery, url, sealed in due:
        body = delivery.payload.encode()
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature(_box(node).open(sealed), delivery.id, stamp, body),
        }
        error = None
        try:
            answer = httpx.post(url, content=body, headers=headers, timeout=HOOK_TIMEOUT)
            if not 200 <= answer.status_code < 300:
                error = f"HTTP {answer.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        _settle(node, delivery.id, error)
        done += error is None
    return done


def _settle(node: Node, delivery_id: str, error: str | None) -> None:
    with node.transaction() as s:
        row = s.get(WebhookDelivery, delivery_id)
        if row is None:
            return
        row.attempts += 1
        if error is None:
            row.status, row.delivered_at, row.last_error = "delivered", utcnow(), None
            return
        row.last_error = error
        if row.attempts >= HOOK_ATTEMPTS:
            row.status = "failed"
        else:
            row.next_attempt_at = utcnow() + timedelta(seconds=30 * 2 ** (row.attempts - 1))


def require_owner(role: str | None) -> None:
    if role != "owner":
        raise Forbidden("only the workspace's owners here may manage its webhooks")


def describe(hook: Webhook) -> dict[str, Any]:
    return {"id": hook.id, "url": hook.url, "created_by": hook.created_by}


def tell_users(s: Session, node: Node, state: dict[str, Any], applied: list[Event]) -> None:
    """Tell our own users of what concerns them: a mention, a task given to them."""
    mine = state.get("users", {}).get(node.member_id, {})
    prefix = f"{node.member_id}/user/"
    for event in applied:
        targets: list[tuple[str, str, str]] = []
        if event.type == "comment.posted":
            for actor in event.body.get("mentions", []):
                if actor.startswith(prefix):
                    text = f"{event.actor} mentioned you in {state['name']}: {event.body['text']}"
                    targets.append((actor[len(prefix) :], "mention", text))
        elif event.type in ("task.created", "task.updated"):
            fields = event.body if event.type == "task.created" else event.body.get("changes", {})
            user = fields.get("assignee_user")
            member = fields.get("assignee_member") or node.member_id
            if user and member == node.member_id:
                title = fields.get("title") or state["tasks"].get(
                    event.body.get("task", ""), {}
                ).get("title", "")
                targets.append(
                    (user, "assigned", f"{event.actor} gave you a task in {state['name']}: {title}")
                )
        for username, reason, text in targets:
            if username == event.user and event.author == node.member_id:
                continue
            if username not in mine:
                continue
            user_id = s.scalar(select(User.id).where(User.username == username))
            if user_id is not None:
                s.add(
                    Notification(
                        user_id=user_id,
                        workspace_id=state["id"],
                        event_id=event.id,
                        reason=reason,
                        text=text[:500],
                    )
                )
