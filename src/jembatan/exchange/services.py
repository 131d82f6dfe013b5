"""Sending and receiving: every state change of a message happens in one function here."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from joserfc.jwk import OKPKey
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from jembatan.accounts.models import User
from jembatan.agreements import fields, retention, rules, steps
from jembatan.agreements.terms import CONTROL_KIND, Terms, check_kind
from jembatan.crypto import jws
from jembatan.crypto.canonical import canonical_json
from jembatan.crypto.keys import public_key
from jembatan.errors import Conflict, Forbidden, InvalidInput, JembatanError, NotFound
from jembatan.exchange import transfer
from jembatan.exchange.envelope import (
    Letter,
    Opened,
    check_classification,
    cleared_labels,
    inspect,
    open_envelope,
    seal,
)
from jembatan.exchange.models import Delivery, Message
from jembatan.identifiers import MemberId, uuid7
from jembatan.ledger.entries import (
    AGREEMENT_REFUSED,
    MESSAGE_RECEIVED,
    MESSAGE_REFUSED,
    MESSAGE_SENT,
    Event,
    record,
    user_actor,
)
from jembatan.node.context import Node
from jembatan.registry.directory import parse_stamp, stamp
from jembatan.registry.membership import Federation, federation
from jembatan.store.blobs import Blob
from jembatan.store.schema import utcnow

RECEIPT_TYP = "jembatan-receipt+jws"
MAX_RECIPIENTS = 50
MAX_LIFETIME = timedelta(days=90)


def _current_key(view: Federation, member: str, use: str, now: datetime) -> dict[str, Any]:
    for directory in view.directories():
        keys = directory.keys_of(member, use, now)
        if keys:
            newest = max(keys, key=lambda k: k.not_before)
            return newest.jwk
    raise InvalidInput("{member} has no valid {use} key in the directory", member=member, use=use)


def _recipients(node: Node, view: Federation, to: list[str]) -> list[str]:
    members: list[str] = []
    for raw in to:
        member = str(MemberId.parse(raw.strip()))
        if member == node.member_id:
            raise InvalidInput("a node does not send messages to itself")
        if view.member(member) is None:
            raise InvalidInput("{member} is not in the member directory", member=member)
        if member not in members:
            members.append(member)
    if not members:
        raise InvalidInput("name at least one recipient")
    if len(members) > MAX_RECIPIENTS:
        raise InvalidInput("at most {n} recipients per message", n=MAX_RECIPIENTS)
    return members


def send(
    node: Node,
    to: list[str],
    subject: str,
    payload: bytes | BinaryIO,
    content_type: str = "text/plain; charset=utf-8",
    filename: str | None = None,
    classification: str = "TLP:AMBER",
    lifetime: timedelta = timedelta(days=7),
    conversation: str | None = None,
    user_id: int | None = None,
    kind: str = "message",
    agreement: str | None = None,
    forwarded_from: str | None = None,
    readers: list[str] | None = None,
) -> Message:
    """Seal a message and queue it for every recipient (outbox row and deliveries in one
    transaction); the delivery worker takes it from there. It goes only under an active
    agreement that allows it (named, or the only one that fits), checked before sealing."""
    subject = subject.strip()
    if not 1 <= len(subject) <= 500:
        raise InvalidInput("the subject must be 1 to 500 characters")
    check_classification(classification)
    if not timedelta(minutes=1) <= lifetime <= MAX_LIFETIME:
        raise InvalidInput("a message may live from one minute to 90 days")
    limit = node.settings.max_message_bytes
    if isinstance(payload, bytes) and len(payload) > limit:
        raise InvalidInput("the message is larger than the limit of {n} bytes", n=limit)
    if filename is not None and (not filename.strip() or len(filename) > 255 or "/" in filename):
        raise InvalidInput("file name must be 1 to 255 characters without '/'")
    view = federation(node)
    members = _recipients(node, view, to)
    named = check_readers(classification, readers or [], [node.member_id, *members])
    check_kind(kind)
    if kind == CONTROL_KIND and content_type != steps.STEP_TYPE:
        raise InvalidInput("kind 'agreement' is reserved for agreement steps")
    terms, payload = _allowed(
        node, members, kind, classification, agreement, user_id, payload, content_type
    )
    now = utcnow().replace(microsecond=0)
    mid = uuid7()
    letter = Letter(
        mid=mid,
        conversation=conversation or mid,
        sender=node.member_id,
        recipients=tuple(members),
        created=now,
        expires=now + lifetime,
        subject=subject,
        classification=classification,
        content_type=content_type,
        filename=filename,
        agreement=terms.id if terms else None,
        kind=kind,
        readers=named,
    )
    keys = [_current_key(view, m, "enc", now) for m in members]
    own = node.keys().decrypting[-1]  # our newest: we can read our sent mail
    recipients = [*keys, own.public_jwk()]
    bulk: Blob | None = None
    if isinstance(payload, bytes):
        body, size, digest = payload, len(payload), hashlib.sha256(payload).hexdigest()
    else:  # a stream: encrypted apart, in constant memory; the envelope carries its manifest
        manifest, bulk = transfer.seal_stream(node, payload, recipients, content_type, filename)
        body, size, digest = manifest.to_bytes(), manifest.size, manifest.sha256
        letter = replace(letter, content_type=transfer.MANIFEST_TYPE, filename=None)
    envelope = seal(letter, body, node.keys().signer(), recipients)
    blob = node.blobs.put_bytes(envelope)
    with node.transaction() as s:
        message = Message(
            id=mid,
            box="outbox",
            conversation_id=letter.conversation,
            sender=node.member_id,
            recipients=json.dumps(members),
            subject=subject,
            classification=classification,
            content_type=content_type,
            filename=filename,
            size=size,
            payload_sha256=digest,
            envelope_sha256=blob.sha256,
            bulk_sha256=bulk.sha256 if bulk else None,
            created_at=now,
            expires_at=letter.expires,
            created_by=user_id,
            kind=kind,
            agreement_id=letter.agreement,
            readers=json.dumps(list(named)) if named else None,
        )
        s.add(message)
        s.flush()
        s.add_all(Delivery(message_id=mid, recipient=m, next_attempt_at=now) for m in members)
        author = s.get(User, user_id) if user_id is not None else None
        record(
            s,
            Event(
                MESSAGE_SENT,
                user_actor(node.member_id, author.username) if author else node.member_id,
                mid,
                {
                    **_facts(message),
                    **({"forwarded_from": forwarded_from} if forwarded_from else {}),
                },
                _hashes(message),
            ),
        )
    return message


def _allowed(
    node: Node,
    members: list[str],
    kind: str,
    classification: str,
    named: str | None,
    user_id: int | None,
    payload: bytes | BinaryIO,
    content_type: str,
) -> tuple[Terms | None, bytes | BinaryIO]:
    """The agreement check before sealing, field rules included: the agreement the message
    goes under, and the payload as it may leave. A refusal is a decision the ledger keeps."""
    try:
        terms = rules.choose(node, node.member_id, members, kind, classification, named)
        if terms is not None and fields.active(terms.field_rules):
            if not isinstance(payload, bytes) or not fields.is_json(content_type):
                raise InvalidInput(
                    "agreement {id} has field rules, so the payload must be JSON", id=terms.id
                )
            key = rules.pseudonym_key(node, terms)
            payload = fields.apply(terms.field_rules, payload, key, terms.id)
        return terms, payload
    except (Forbidden, InvalidInput) as exc:
        with node.transaction() as s:
            author = s.get(User, user_id) if user_id is not None else None
            record(
                s,
                Event(
                    AGREEMENT_REFUSED,
                    user_actor(node.member_id, author.username) if author else node.member_id,
                    named or "none",
                    {
                        "kind": kind,
                        "sender": node.member_id,
                        "recipients": members,
                        "classification": classification,
                        "reason": exc.detail[:500],
                    },
                ),
            )
        raise


def _facts(message: Message) -> dict[str, Any]:
    """What the ledger keeps of a message: routing and size, never subject or content."""
    return {
        "kind": message.kind,
        "agreement": message.agreement_id,
        "sender": message.sender,
        "recipients": json.loads(message.recipients),
        "classification": message.classification,
        "conversation": message.conversation_id,
        "size": message.size,
        "expires": stamp(message.expires_at),
    }


def _hashes(message: Message, **more: str) -> dict[str, str]:
    return {"envelope": message.envelope_sha256, "payload": message.payload_sha256, **more}


def forward(
    node: Node,
    mid: str,
    to: list[str],
    user_id: int | None = None,
    viewer: Viewer | None = None,
    agreement: str | None = None,
) -> Message:
    """Share a received message onward: only when the agreement it came under allows
    onward sharing, and then under an agreement with the new recipients, like any send."""
    original, _ = get_message(node, mid, viewer)
    if original.box != "inbox":
        raise InvalidInput("only a received message can be forwarded")
    if original.classification == RED:
        raise Forbidden("TLP:RED messages are for their named readers only; none is forwarded")
    terms = rules.terms_of(node, original.agreement_id) if original.agreement_id else None
    if terms is None or not terms.onward_sharing:
        raise Forbidden(
            "message {mid} came under agreement {id}, which does not allow onward sharing",
            mid=mid,
            id=original.agreement_id or "none",
        )
    if original.bulk_sha256 is None:
        payload: bytes | BinaryIO = read_payload(node, original)
        return _forward(node, original, to, payload, user_id, agreement)
    path = node.blobs.temp_path(f"forward-{uuid7()}")
    try:
        with path.open("w+b") as copy:
            write_payload(node, original, copy)
            copy.seek(0)
            return _forward(node, original, to, copy, user_id, agreement)
    finally:
        path.unlink(missing_ok=True)


def _forward(
    node: Node,
    original: Message,
    to: list[str],
    payload: bytes | BinaryIO,
    user_id: int | None,
    agreement: str | None,
) -> Message:
    return send(
        node,
        to,
        f"Fwd: {original.subject}"[:500],
        payload,
        original.content_type,
        original.filename,
        original.classification,  # never downgraded on the way
        conversation=original.conversation_id,
        user_id=user_id,
        kind=original.kind,
        agreement=agreement,
        forwarded_from=original.id,
    )


def sender_key_for(node: Node) -> Any:
    """Look up a sender's signing key as the directory says it was valid at `created`."""
    view = federation(node)

    def lookup(kid: str, member: str, created: datetime) -> OKPKey:
        record = view.key(kid)
        if record is None or record.member != member or record.use != "sig":
            raise InvalidInput(
                "the envelope is signed by a key {member} does not hold", member=member
            )
        if record.revoked_at is not None and created >= record.revoked_at:
            raise InvalidInput("the envelope is signed by a revoked key")
        if not record.usable_at(created):
            raise InvalidInput("the signing key was not valid when the envelope was made")
        return public_key(record.jwk)

    return lookup


def _receipt(node: Node, mid: str, envelope_sha256: str, sender: str, at: datetime) -> str:
    body = {
        "message_id": mid,
        "envelope_sha256": envelope_sha256,
        "sender": sender,
        "recipient": node.member_id,
        "received_at": stamp(at),
    }
    return jws.sign(canonical_json(body), node.keys().signer(), RECEIPT_TYP)


def receive(node: Node, peer_member: str, envelope: bytes) -> str:
    """Accept an envelope from a verified peer; return our signed receipt. A repeat of a
    message we hold gets the original receipt; any refusal stores nothing but its ledger
    entry."""
    try:
        return _receive(node, peer_member, envelope)
    except JembatanError as exc:
        try:
            mid = str(inspect(envelope).routing.get("mid", ""))
        except JembatanError:
            mid = ""
        with node.transaction() as s:
            record(
                s,
                Event(
                    MESSAGE_REFUSED,
                    peer_member,
                    mid or "unreadable envelope",
                    {"reason": exc.detail[:500], "status": exc.status},
                    {"envelope": hashlib.sha256(envelope).hexdigest()},
                ),
            )
        raise


def _receive(node: Node, peer_member: str, envelope: bytes) -> str:
    outside = inspect(envelope)
    routing = outside.routing
    digest = hashlib.sha256(envelope).hexdigest()
    if routing["from"] != peer_member:
        raise Forbidden(
            "the envelope is from {sender}, but the request is signed by {peer}",
            sender=routing["from"],
            peer=peer_member,
        )
    if node.member_id not in routing["to"]:
        raise Forbidden("this node ({me}) is not a recipient of the envelope", me=node.member_id)
    with node.db() as s:
        existing = s.get(Message, str(routing["mid"]))
    if existing is not None:
        return _repeat(existing, digest)
    now = utcnow()
    if parse_stamp(str(routing["expires"])) <= now:
        raise InvalidInput("the envelope expired at {at}", at=routing["expires"])
    opened: Opened = open_envelope(envelope, node.keys().decrypting, sender_key_for(node))
    letter = opened.letter
    check_readers(letter.classification, list(letter.readers), [letter.sender, *letter.recipients])
    step = _checked_under_agreement(node, letter, opened.payload)
    content_type, filename = letter.content_type, letter.filename
    size, digest_plain, bulk = len(opened.payload), hashlib.sha256(opened.payload).hexdigest(), None
    if letter.content_type == transfer.MANIFEST_TYPE:
        manifest = transfer.Manifest.parse(opened.payload)
        bulk = transfer.finish(node, letter.sender, letter.mid, manifest)
        content_type, filename = manifest.content_type, manifest.filename
        size, digest_plain = manifest.size, manifest.sha256
    now = now.replace(microsecond=0)
    receipt = _receipt(node, letter.mid, digest, letter.sender, now)
    blob = node.blobs.put_bytes(envelope)
    try:
        with node.transaction() as s:
            inbox = Message(
                id=letter.mid,
                box="inbox",
                conversation_id=letter.conversation,
                sender=letter.sender,
                recipients=json.dumps(list(letter.recipients)),
                subject=letter.subject,
                classification=letter.classification,
                content_type=content_type,
                filename=filename,
                size=size,
                payload_sha256=digest_plain,
                envelope_sha256=blob.sha256,
                bulk_sha256=bulk.sha256 if bulk else None,
                created_at=letter.created,
                expires_at=letter.expires,
                received_at=now,
                receipt=receipt,
                kind=letter.kind,
                agreement_id=letter.agreement,
                readers=json.dumps(list(letter.readers)) if letter.readers else None,
            )
            s.add(inbox)
            s.flush()
            if step is not None:
                steps.apply_step(node, s, letter.sender, step)
            receipt_hash = hashlib.sha256(receipt.encode()).hexdigest()
            record(
                s,
                Event(
                    MESSAGE_RECEIVED,
                    letter.sender,
                    letter.mid,
                    _facts(inbox),
                    _hashes(inbox, receipt=receipt_hash),
                ),
            )
        if bulk is not None:
            transfer.forget(node, letter.mid)
        if step is not None and step.purge:
            received = retention.received_under(node, step.terms.id)
            retention.purge(node, received, "agreement revoked with purge", letter.sender)
    except IntegrityError:  # the same message arrived twice at once: the first one won
        with node.db() as s:
            first = s.get(Message, letter.mid)
        assert first is not None
        return _repeat(first, digest)
    return receipt


def _checked_under_agreement(node: Node, letter: Letter, payload: bytes) -> steps.Step | None:
    """The receiving end checks again: an agreement step must be sound, and anything else
    must name an agreement, active here, that allows it."""
    if letter.kind == CONTROL_KIND:
        if letter.content_type != steps.STEP_TYPE:
            raise InvalidInput("an agreement message must carry an agreement step")
        return steps.parse_step(node, letter.sender, payload)
    if not letter.agreement:
        raise Forbidden("the message names no agreement; nothing is accepted without one")
    terms = rules.choose(
        node,
        letter.sender,
        list(letter.recipients),
        letter.kind,
        letter.classification,
        letter.agreement,
        at=letter.created,
    )
    if terms is not None and fields.active(terms.field_rules):
        fields.check(terms.field_rules, payload, terms.id)
    return None


def _repeat(existing: Message, digest: str) -> str:
    if existing.box != "inbox" or existing.envelope_sha256 != digest or existing.receipt is None:
        raise Conflict("message {mid} is already held with other content", mid=existing.id)
    return existing.receipt


@dataclass(frozen=True)
class ReceiptFacts:
    message_id: str
    envelope_sha256: str
    sender: str
    recipient: str
    received_at: datetime


def verify_receipt(node: Node, receipt: str, message: Message, recipient: str) -> ReceiptFacts:
    """A receipt must be signed by the recipient's key and name exactly this envelope."""
    header = jws.unverified_header(receipt)
    record = federation(node).key(str(header.get("kid")))
    if record is None or record.member != recipient or record.use != "sig":
        raise InvalidInput("the receipt is not signed by {member}", member=recipient)
    body = json.loads(jws.verify(receipt, public_key(record.jwk), RECEIPT_TYP).payload)
    facts = ReceiptFacts(
        body["message_id"],
        body["envelope_sha256"],
        body["sender"],
        body["recipient"],
        parse_stamp(body["received_at"]),
    )
    expected = (message.id, message.envelope_sha256, node.member_id, recipient)
    if (facts.message_id, facts.envelope_sha256, facts.sender, facts.recipient) != expected:
        raise InvalidInput("the receipt does not match the message that was sent")
    return facts


# Reading ---------------------------------------------------------------------------------


RED = "TLP:RED"


def check_readers(classification: str, readers: list[str], members: list[str]) -> tuple[str, ...]:
    """TLP:RED goes to named people only (MEMBER/user/NAME of the sender or a recipient);
    other labels name none. The readers, sorted and checked."""
    named = tuple(sorted({r.strip() for r in readers if r.strip()}))
    if classification != RED:
        if named:
            raise InvalidInput("only TLP:RED messages name their readers")
        return named
    if not named:
        raise InvalidInput(
            "a TLP:RED message must name its readers (MEMBER/user/NAME at each recipient)"
        )
    if len(named) > 100:
        raise InvalidInput("at most 100 named readers")
    for reader in named:
        member, sep, name = reader.rpartition("/user/")
        if not sep or not name or member not in members:
            raise InvalidInput(
                "reader {reader!r} must be MEMBER/user/NAME of the sender or a recipient",
                reader=reader,
            )
    return named


@dataclass(frozen=True)
class Viewer:
    """A person reading messages: what their clearance and name let them see."""

    user_id: int
    actor: str  # MEMBER/user/NAME, as readers are named
    clearance: str

    @classmethod
    def of(cls, node: Node, user: Any) -> Viewer:
        return cls(int(user.id), user_actor(node.member_id, user.username), str(user.clearance))

    def may_read(self, message: Message) -> bool:
        if message.classification not in cleared_labels(self.clearance):
            return False
        if message.classification != RED:
            return True
        return message.created_by == self.user_id or self.actor in json.loads(
            message.readers or "[]"
        )


def list_messages(
    node: Node, box: str, limit: int = 100, offset: int = 0, viewer: Viewer | None = None
) -> list[Message]:
    """Newest first; with a `viewer`, only what that person may see."""
    if box not in ("inbox", "outbox"):
        raise InvalidInput("box must be inbox or outbox")
    query = select(Message).where(Message.box == box, Message.kind != CONTROL_KIND)
    if viewer is not None:
        query = query.where(
            Message.classification.in_(cleared_labels(viewer.clearance)),
            or_(
                Message.classification != RED,
                Message.created_by == viewer.user_id,
                Message.readers.contains(json.dumps(viewer.actor), autoescape=True),
            ),
        )
    with node.db() as s:
        return list(
            s.scalars(query.order_by(Message.id.desc()).limit(min(limit, 500)).offset(offset))
        )


def get_message(
    node: Node, mid: str, viewer: Viewer | None = None
) -> tuple[Message, list[Delivery]]:
    """One message; with a `viewer`, refused when classified above their clearance, or
    TLP:RED and they are not among its named readers."""
    with node.db() as s:
        message = s.get(Message, mid)
        if message is None:
            raise NotFound("no message {mid}", mid=mid)
        if viewer is not None and message.classification not in cleared_labels(viewer.clearance):
            raise Forbidden(
                "your clearance ({clearance}) is below this message's classification ({label})",
                clearance=viewer.clearance,
                label=message.classification,
            )
        if viewer is not None and not viewer.may_read(message):
            raise Forbidden("this TLP:RED message is for its named readers only")
        deliveries = list(
            s.scalars(
                select(Delivery).where(Delivery.message_id == mid).order_by(Delivery.recipient)
            )
        )
    return message, deliveries


def envelope_of(node: Node, message: Message) -> bytes:
    return node.blobs.read_bytes(message.envelope_sha256)


def read_payload(node: Node, message: Message) -> bytes:
    """Open our stored envelope (we are a recipient of every envelope we hold). Large
    payloads are better streamed with `write_payload`."""
    out = io.BytesIO()
    write_payload(node, message, out)
    return out.getvalue()


def write_payload(node: Node, message: Message, target: BinaryIO) -> int:
    if message.bulk_sha256 is not None:
        return transfer.read_to(node, message, target)
    opened = open_envelope(envelope_of(node, message), node.keys().decrypting, sender_key_for(node))
    target.write(opened.payload)
    return len(opened.payload)
