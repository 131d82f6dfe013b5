"""Notifications outside the portal: e-mail through a real SMTP server (content above
TLP:GREEN never in the mail), and webhooks signed as the Standard Webhooks spec says,
retried with back-off when the agency's system is down."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy import update

from jembatan.accounts.services import find_user, update_user
from jembatan.errors import Forbidden, InvalidInput
from jembatan.node.context import Node
from jembatan.store.schema import utcnow
from jembatan.workspaces import notify
from jembatan.workspaces import services as ws
from jembatan.workspaces.models import WebhookDelivery
from jembatan.workspaces.services import Person
from tests.conftest import NodeFactory, add_user, free_port


class Inbox(MessageHandler):
    def __init__(self) -> None:
        super().__init__()
        self.mails: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.mails.append(message)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_mentions_go_by_mail_without_protected_content(
    make_node: NodeFactory, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    node = make_node(
        require_two_factor=False, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
    )
    for name in ("ana", "budi"):
        add_user(node, name, "officer")
    update_user(node, find_user(node, "budi").id, email="budi@kemkes.go.id")
    ana = Person.of(find_user(node, "ana"))
    with pytest.raises(InvalidInput):
        update_user(node, find_user(node, "ana").id, email="not an address")
    open_ws = ws.create(node, ana, "Public campaign", classification="TLP:GREEN")
    closed = ws.create(node, ana, "Outbreak cell", classification="TLP:AMBER")
    for wid in (open_ws, closed):
        ws.admit(node, wid, ana, "budi", "editor")
        ws.comment(node, wid, ana, "@budi the poster text is ready")
    ws.add_task(node, closed, ana, "Check the cluster in Bekasi", assignee_user="budi")
    assert notify.send_mail(node) == 3
    assert notify.send_mail(node) == 0  # each goes once
    bodies = [(m["Subject"], m.get_payload()) for m in inbox.mails]
    assert all(m["To"] == "budi@kemkes.go.id" for m in inbox.mails)
    [green] = [b for s, b in bodies if "poster text" in s]
    assert f"/workspaces/{open_ws}" in green
    amber = [b for s, b in bodies if "Outbreak cell" in s]
    assert len(amber) == 2
    assert all("poster" not in b and "Bekasi" not in b for b in amber)
    assert all(f"/workspaces/{closed}" in b for b in amber)


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(Receiver.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written from the spec: HMAC-SHA256 with the
    base64 part of whsec_ over "id.timestamp.body", base64, in a space-separated list."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(sig.split(",", 1)[1] == expected for sig in headers["webhook-signature"].split(" "))


def test_webhooks_are_signed_and_retried(node: Node) -> None:
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received.clear()
    try:
        add_user(node, "ana", "officer")
        add_user(node, "eko", "officer")
        ana, eko = Person.of(find_user(node, "ana")), Person.of(find_user(node, "eko"))
        wid = ws.create(node, ana, "Tax pilot", classification="TLP:GREEN")
        ws.admit(node, wid, ana, "eko", "editor")
        with pytest.raises(Forbidden):
            ws.add_webhook(node, wid, eko, f"http://127.0.0.1:{port}/hook")
        with pytest.raises(InvalidInput):
            ws.add_webhook(node, wid, ana, "file:///etc/passwd")
        hook, secret = ws.add_webhook(node, wid, ana, f"http://127.0.0.1:{port}/hook")
        assert secret.startswith("whsec_")
        task = ws.add_task(node, wid, eko, "Map CRS fields")
        assert notify.deliver_hooks(node) == 1
        [(headers, body)] = Receiver.received
        assert _verify(secret, headers, body)
        assert not _verify(secret, {**headers, "webhook-timestamp": "1"}, body)
        doc = json.loads(body)
        assert doc["type"] == "workspace.event"
        assert doc["data"]["event"]["id"] == task.id
        assert doc["data"]["event"]["body"]["title"] == "Map CRS fields"
        assert doc["data"]["state_hash"] == ws.get(node, wid, None).state_hash

        Receiver.status = 503  # the agency's system is down: tried again later
        ws.complete_task(node, wid, eko, task.id)
        assert notify.deliver_hooks(node) == 0
        with node.db() as s:
            waiting = s.query(WebhookDelivery).filter_by(status="queued").one()
            assert waiting.attempts == 1
            assert waiting.last_error == "HTTP 503"
            assert waiting.next_attempt_at > utcnow()
        assert notify.deliver_hooks(node) == 0  # not due yet
        Receiver.status = 200
        with node.transaction() as s:
            s.execute(
                update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        assert notify.deliver_hooks(node) == 1
        assert len(Receiver.received) == 3
        assert {h["webhook-id"] for h, _ in Receiver.received[1:]} == {waiting.id}
        ws.remove_webhook(node, wid, ana, hook.id)
        assert ws.list_webhooks(node, wid, ana) == []
    finally:
        Receiver.status = 200
        server.shutdown()
