"""Folding events into state: the same events give the same state in any arrival order,
concurrent edits resolve by the documented total order, and events beyond a member's
role, from non-members or with a forged link change nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jembatan.crypto.keys import generate, public_key
from jembatan.workspaces import events, fold
from jembatan.workspaces.events import Event

IDN, MYS, SGP, THA = (f"ASEAN/GOV/{c}" for c in ("IDN", "MYS", "SGP", "THA"))
KEY = generate("sig")
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


class Log:
    """A workspace's events made by hand, each on the heads its author names."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        created = self.add(
            IDN,
            "ana",
            "workspace.created",
            {"name": "Dengue", "classification": "TLP:GREEN", "ceiling": "TLP:AMBER"},
            parents=[],
            workspace="",
        )
        self.id = events.workspace_of(created)

    def add(
        self,
        author: str,
        user: str,
        type: str,
        body: dict[str, Any],
        parents: list[Event] | None = None,
        workspace: str | None = None,
    ) -> Event:
        heads = fold.fold(self.id, self.events).heads if parents is None else parents
        at = T0 + timedelta(minutes=len(self.events))
        event = events.make(
            KEY, author, user, self.id if workspace is None else workspace, type, body, heads, at
        )
        self.events.append(event)
        return event

    def state(self) -> dict[str, Any]:
        return fold.fold(self.id, self.events).state


def joined_log() -> Log:
    log = Log()
    log.add(IDN, "ana", "member.invited", {"member": MYS})
    log.add(IDN, "ana", "member.invited", {"member": SGP})
    log.add(MYS, "mei", "member.joined", {})
    log.add(SGP, "sam", "member.joined", {})
    return log


def test_creation_gives_the_owner_and_the_id() -> None:
    log = Log()
    state = log.state()
    assert state["owner"] == IDN
    assert state["name"] == "Dengue"
    assert state["users"] == {IDN: {"ana": "owner"}}
    assert len(log.id) == 32
    assert log.events[0].id.startswith(log.id)


def test_any_arrival_order_gives_the_same_state_and_hash() -> None:
    log = joined_log()
    task = log.add(MYS, "mei", "task.created", {"title": "Fogging schedule"})
    log.add(SGP, "sam", "comment.posted", {"thread": task.id, "text": "we can help"})
    log.add(IDN, "ana", "task.completed", {"task": task.id})
    expected = fold.fold(log.id, log.events)
    shuffled = list(log.events)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)  # noqa: S311  (a repeatable order)
        again = fold.fold(log.id, shuffled)
        assert again.state_hash == expected.state_hash
        assert again.state == expected.state
    assert expected.state["tasks"][task.id]["status"] == "done"


def test_concurrent_edits_of_one_task_resolve_by_clock_then_author() -> None:
    log = joined_log()
    task = log.add(IDN, "ana", "task.created", {"title": "Draft joint advisory"})
    # Both edit on the same heads (neither saw the other): same clock, MYS sorts after IDN.
    heads = fold.fold(log.id, log.events).heads
    log.add(MYS, "mei", "task.updated", {"task": task.id, "changes": {"title": "MYS title"}}, heads)
    log.add(
        IDN,
        "ana",
        "task.updated",
        {"task": task.id, "changes": {"title": "IDN title", "due": "2026-12-01"}},
        heads,
    )
    state = log.state()
    assert state["tasks"][task.id]["title"] == "MYS title"  # later in the total order
    assert state["tasks"][task.id]["due"] == "2026-12-01"  # the field MYS did not touch
    # An edit that saw both wins whoever made it.
    log.add(IDN, "ana", "task.updated", {"task": task.id, "changes": {"title": "Agreed title"}})
    assert log.state()["tasks"][task.id]["title"] == "Agreed title"


def test_events_beyond_role_or_from_outsiders_change_nothing() -> None:
    log = joined_log()
    log.add(MYS, "mei", "user.admitted", {"user": "vic", "role": "viewer"})
    before = log.state()
    viewer = log.add(MYS, "vic", "task.created", {"title": "by a viewer"})
    outsider = log.add(THA, "tom", "comment.posted", {"thread": "workspace", "text": "hi"})
    stranger = log.add(MYS, "zed", "decision.recorded", {"title": "t", "text": "x"})
    invite = log.add(MYS, "mei", "member.invited", {"member": THA})  # only the owning member
    folded = fold.fold(log.id, log.events)
    assert folded.state == {**before}
    assert "viewer" in folded.rejected[viewer.id]
    assert "not a member" in folded.rejected[outsider.id]
    assert "not a member" in folded.rejected[stranger.id]
    assert "owns the workspace" in folded.rejected[invite.id]


def test_forged_links_are_rejected() -> None:
    log = joined_log()
    # A second "creation" claiming this workspace, and an event with a wrong clock.
    forged = events.make(
        KEY,
        MYS,
        "mei",
        "",
        "workspace.created",
        {"name": "Mine", "classification": "TLP:GREEN", "ceiling": "TLP:AMBER"},
        [],
        T0,
    )
    heads = fold.fold(log.id, log.events).heads
    skipped = events.make(
        KEY, MYS, "mei", log.id, "decision.recorded", {"title": "t", "text": "x"}, heads, T0
    )
    bad_clock = Event(**{**skipped.__dict__, "clock": skipped.clock + 5, "id": "f" * 64})
    folded = fold.fold(log.id, [*log.events, forged, bad_clock])
    assert forged.id in folded.rejected
    assert bad_clock.id in folded.rejected
    assert folded.state["owner"] == IDN
    assert folded.state["decisions"] == []


def test_an_event_waits_for_its_parents() -> None:
    log = joined_log()
    first = log.add(IDN, "ana", "task.created", {"title": "one"})
    second = log.add(IDN, "ana", "task.completed", {"task": first.id})
    partial = fold.fold(log.id, [e for e in log.events if e is not first])
    assert [e.id for e in partial.waiting] == [second.id]
    assert first.id not in partial.state["tasks"]


def test_bodies_are_checked() -> None:
    log = joined_log()
    bad = [
        log.add(IDN, "ana", "task.created", {"title": ""}),
        log.add(IDN, "ana", "task.created", {"title": "x", "assignee_member": THA}),
        log.add(IDN, "ana", "task.created", {"title": "x", "due": "soon"}),
        log.add(
            IDN,
            "ana",
            "document.uploaded",
            {
                "title": "t",
                "classification": "TLP:RED",
                "filename": "a.txt",
                "content_type": "text/plain",
                "size": 1,
                "sha256": "0" * 64,
            },
        ),
        log.add(IDN, "ana", "comment.posted", {"thread": "f" * 64, "text": "x"}),
        log.add(IDN, "ana", "rocket.launched", {}),
    ]
    folded = fold.fold(log.id, log.events)
    assert all(e.id in folded.rejected for e in bad), folded.rejected
    assert "above the workspace ceiling" in folded.rejected[bad[3].id]


def test_signatures_are_verified_with_the_authors_key() -> None:
    log = Log()
    token = log.events[0].token
    assert (
        events.verify(token, lambda kid, member, at: public_key(KEY.public_jwk())).id
        == log.events[0].id
    )
    other = generate("sig")
    with pytest.raises(Exception, match="signature"):
        events.verify(token, lambda kid, member, at: public_key(other.public_jwk()))


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["IDN", "MYS", "SGP"]),
        st.sampled_from(["title", "status"]),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(ACTIONS, st.randoms(use_true_random=False))
def test_concurrent_histories_converge(
    actions: list[tuple[str, str, int]], rng: random.Random
) -> None:
    """Three nodes edit one task on heads that each lag behind: every arrival order of the
    resulting events folds to one state."""
    log = joined_log()
    task = log.add(IDN, "ana", "task.created", {"title": "t"})
    users = {"IDN": (IDN, "ana"), "MYS": (MYS, "mei"), "SGP": (SGP, "sam")}
    for code, field, lag in actions:
        held = log.events[: max(len(log.events) - lag, 6)]
        heads = fold.fold(log.id, held).heads
        value = {"title": f"{code}-{len(log.events)}", "status": "in-progress"}[field]
        author, user = users[code]
        log.add(author, user, "task.updated", {"task": task.id, "changes": {field: value}}, heads)
    expected = fold.fold(log.id, log.events).state_hash
    shuffled = list(log.events)
    rng.shuffle(shuffled)
    assert fold.fold(log.id, shuffled).state_hash == expected


def test_a_purge_removes_old_content_in_any_order() -> None:
    log = Log()
    log.add(IDN, "ana", "workspace.updated", {"retention_days": 30})
    old = log.add(IDN, "ana", "comment.posted", {"thread": "workspace", "text": "old news"})
    decision = log.add(IDN, "ana", "decision.recorded", {"title": "t", "text": "old"})
    doc = log.add(
        IDN,
        "ana",
        "document.uploaded",
        {
            "title": "Plan",
            "classification": "TLP:GREEN",
            "filename": "plan.txt",
            "content_type": "text/plain",
            "size": 3,
            "sha256": "a" * 64,
            "comment": "draft",
        },
    )
    # Forty days later the owning node purges what is older than 30 days.
    later = T0 + timedelta(days=40)
    heads = fold.fold(log.id, log.events).heads
    cutoff = (T0 + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    purge = events.make(
        KEY, IDN, "retention", log.id, "content.purged", {"before": cutoff}, heads, later
    )
    fresh = events.make(
        KEY,
        IDN,
        "ana",
        log.id,
        "comment.posted",
        {"thread": "workspace", "text": "new"},
        [purge],
        later,
    )
    log.events += [purge, fresh]
    state = log.state()
    assert [c["text"] for c in state["comments"]] == ["new"]
    assert state["decisions"] == []
    [version] = state["documents"][doc.id]["versions"]
    assert version["purged"] is True
    assert "filename" not in version
    assert "comment" not in version
    # The stored, redacted form of purged events folds to the same state.
    stubs = [events.from_stored(events.redact(e)) for e in (old, decision)]
    kept = [e for e in log.events if e not in (old, decision)]
    assert fold.fold(log.id, [*kept, *stubs]).state_hash == fold.fold(log.id, log.events).state_hash
    # Only the owning member purges, only with a retention period, never the recent past.
    too_soon = events.make(
        KEY,
        IDN,
        "retention",
        log.id,
        "content.purged",
        {"before": later.strftime("%Y-%m-%dT%H:%M:%SZ")},
        [fresh],
        later,
    )
    by_partner = events.make(
        KEY, MYS, "mei", log.id, "content.purged", {"before": cutoff}, [fresh], later
    )
    folded = fold.fold(log.id, [*log.events, too_soon, by_partner])
    assert "younger than 30 days" in folded.rejected[too_soon.id]
    assert "owning member" in folded.rejected[by_partner.id]
