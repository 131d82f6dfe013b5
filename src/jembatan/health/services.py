"""Surveillance on this node: import reports into time series (corrections keep history),
share them with partners under agreement, take in what partners share, run detection on
our own series, and let officers review the signals it raises."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from jembatan.agreements import rules
from jembatan.errors import Forbidden, InvalidInput, JembatanError, NotFound
from jembatan.exchange import services as exchange
from jembatan.exchange.envelope import TLP, check_classification
from jembatan.exchange.models import Message
from jembatan.health import cases, codes, detect, reports, weeks
from jembatan.health.models import Count, Report, Signal
from jembatan.identifiers import uuid7
from jembatan.ledger.entries import Event, record
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry.directory import stamp
from jembatan.registry.membership import other_members
from jembatan.store.schema import utcnow

log = get_logger("jembatan.health")

KIND = "health.surveillance"  # counts and signals travel under agreements allowing this
FHIR_TYPE = "application/fhir+json"
SIGNAL_TYPE = "application/vnd.jembatan.health-signal+json"
SIGNAL_FORMAT = "jembatan-health-signal/1"

REPORT_IMPORTED = "health.report.imported"
REPORT_RECEIVED = "health.report.received"
SIGNAL_RAISED = "health.signal.raised"
SIGNAL_REVIEWED = "health.signal.reviewed"
SIGNAL_RECEIVED = "health.signal.received"

DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed"}
_CHUNK = 500  # rows per IN (...) list, well under every engine's parameter limit


@dataclass(frozen=True)
class SeriesKey:
    member: str
    disease: str
    area: str


@dataclass(frozen=True)
class SeriesInfo:
    key: SeriesKey
    first: str
    last: str
    weeks: int
    latest: int


@dataclass(frozen=True)
class Week:
    period: str
    count: int
    population: int | None


# Import -----------------------------------------------------------------------------


def import_report(
    node: Node,
    data: bytes,
    filename: str | None = None,
    classification: str = "TLP:AMBER",
    actor: str | None = None,
    user_id: int | None = None,
) -> Report:
    """Validate a file of our own counts and store it; a bad file raises ReportInvalid
    listing every problem, and nothing is stored."""
    check_classification(classification)
    parsed = reports.parse(data, filename)
    with node.transaction() as s:
        report = _store(
            s,
            parsed,
            member=node.member_id,
            source="import",
            sha256=hashlib.sha256(data).hexdigest(),
            filename=filename,
            classification=classification,
            user_id=user_id,
        )
        record(
            s,
            Event(
                REPORT_IMPORTED,
                actor or node.member_id,
                report.id,
                _report_facts(report, parsed),
                {"file": report.sha256},
            ),
        )
    return report


def _report_facts(report: Report, parsed: reports.Parsed) -> dict[str, Any]:
    periods = sorted({o.period for o in parsed.observations})
    return {
        "member": report.member,
        "format": report.format,
        "observations": report.observations,
        "changed": report.changed,
        "classification": report.classification,
        "diseases": sorted({o.disease for o in parsed.observations}),
        "first": periods[0],
        "last": periods[-1],
    }


def _store(
    s: Session,
    parsed: reports.Parsed,
    *,
    member: str,
    source: str,
    sha256: str,
    filename: str | None,
    classification: str,
    user_id: int | None = None,
    message_id: str | None = None,
    agreement_id: str | None = None,
) -> Report:
    report = Report(
        id=uuid7(),
        member=member,
        source=source,
        format=parsed.format,
        filename=filename,
        sha256=sha256,
        fhir_ids=json.dumps(parsed.report_ids),
        classification=classification,
        observations=len(parsed.observations),
        changed=0,
        message_id=message_id,
        agreement_id=agreement_id,
        created_at=utcnow(),
        created_by=user_id,
    )
    s.add(report)
    s.flush()
    held = _current_rows(s, member, parsed.observations)
    rows, retire = [], []
    for o in parsed.observations:
        before = held.get((o.disease, o.area, o.period))
        if before is not None and (before[1], before[2]) == (o.count, o.population):
            continue  # the same figure again: no new version
        if before is not None:
            retire.append(before[0])
        rows.append(
            {
                "report_id": report.id,
                "member": member,
                "disease": o.disease,
                "area": o.area,
                "period": o.period,
                "count": o.count,
                "population": o.population,
                "version": before[3] + 1 if before is not None else 1,
                "current": True,
            }
        )
    for i in range(0, len(retire), _CHUNK):
        s.execute(update(Count).where(Count.id.in_(retire[i : i + _CHUNK])).values(current=False))
    if rows:
        s.execute(insert(Count), rows)
    report.changed = len(rows)
    return report


def _current_rows(
    s: Session, member: str, observations: Sequence[reports.Observation]
) -> dict[tuple[str, str, str], tuple[int, int, int | None, int]]:
    """(disease, area, period) -> (row id, count, population, version) of what is held."""
    diseases = sorted({o.disease for o in observations})
    areas = sorted({o.area for o in observations})
    periods = sorted({o.period for o in observations})
    found: dict[tuple[str, str, str], tuple[int, int, int | None, int]] = {}
    for i in range(0, len(areas), _CHUNK):
        query = select(
            Count.id,
            Count.disease,
            Count.area,
            Count.period,
            Count.count,
            Count.population,
            Count.version,
        ).where(
            Count.member == member,
            Count.current.is_(True),
            Count.disease.in_(diseases),
            Count.area.in_(areas[i : i + _CHUNK]),
            Count.period >= periods[0],
            Count.period <= periods[-1],
        )
        for row in s.execute(query):
            found[(row.disease, row.area, row.period)] = (row[0], row[4], row[5], row[6])
    return found


# Reading ----------------------------------------------------------------------------


def _visible(labels: Collection[str] | None) -> Any:
    """Counts whose report the reader is cleared for (None: no reader to limit)."""
    if labels is None:
        return True
    return Report.classification.in_(list(labels))


def catalogue(node: Node, labels: Collection[str] | None = None) -> list[SeriesInfo]:
    """Every series held (ours and partners'), with its span and latest count."""
    query = (
        select(
            Count.member,
            Count.disease,
            Count.area,
            func.min(Count.period),
            func.max(Count.period),
            func.count(),
        )
        .join(Report, Report.id == Count.report_id)
        .where(Count.current.is_(True), _visible(labels))
        .group_by(Count.member, Count.disease, Count.area)
    )
    with node.db() as s:
        spans = list(s.execute(query))
        last = (
            select(Count.member, Count.disease, Count.area, func.max(Count.period).label("p"))
            .join(Report, Report.id == Count.report_id)
            .where(Count.current.is_(True), _visible(labels))
            .group_by(Count.member, Count.disease, Count.area)
            .subquery()
        )
        latest: dict[tuple[str, str, str], int] = {
            (r[0], r[1], r[2]): r[3]
            for r in s.execute(
                select(Count.member, Count.disease, Count.area, Count.count)
                .join(
                    last,
                    and_(
                        Count.member == last.c.member,
                        Count.disease == last.c.disease,
                        Count.area == last.c.area,
                        Count.period == last.c.p,
                    ),
                )
                .where(Count.current.is_(True))
            )
        }
    out = []
    for member, disease, area, first, final, n in spans:
        out.append(
            SeriesInfo(
                SeriesKey(member, disease, area),
                first,
                final,
                n,
                latest.get((member, disease, area), 0),
            )
        )
    own = node.member_id
    return sorted(out, key=lambda i: (i.key.member != own, i.key.member, i.key.disease, i.key.area))


def series(node: Node, key: SeriesKey, labels: Collection[str] | None = None) -> list[Week]:
    """The current figure of each reported week, oldest first."""
    with node.db() as s:
        rows = s.execute(
            select(Count.period, Count.count, Count.population)
            .join(Report, Report.id == Count.report_id)
            .where(
                Count.member == key.member,
                Count.disease == key.disease,
                Count.area == key.area,
                Count.current.is_(True),
                _visible(labels),
            )
            .order_by(Count.period)
        )
        return [Week(r[0], r[1], r[2]) for r in rows]


def history(node: Node, key: SeriesKey, period: str) -> list[tuple[Count, Report]]:
    """Every version of one week's figure, newest first, with the report it came in."""
    with node.db() as s:
        return [
            (row[0], row[1])
            for row in s.execute(
                select(Count, Report)
                .join(Report, Report.id == Count.report_id)
                .where(
                    Count.member == key.member,
                    Count.disease == key.disease,
                    Count.area == key.area,
                    Count.period == period,
                )
                .order_by(Count.version.desc())
            )
        ]


def refresh_current(node: Node) -> None:
    """After a purge took a newer version away, the newest one left is current again."""
    with node.transaction() as s:
        orphaned = list(
            s.execute(
                select(Count.member, Count.disease, Count.area, Count.period)
                .group_by(Count.member, Count.disease, Count.area, Count.period)
                .having(func.sum(case((Count.current.is_(True), 1), else_=0)) == 0)
            )
        )
        for member, disease, area, period in orphaned:
            newest = s.scalar(
                select(Count.id)
                .where(
                    Count.member == member,
                    Count.disease == disease,
                    Count.area == area,
                    Count.period == period,
                )
                .order_by(Count.version.desc())
                .limit(1)
            )
            s.execute(update(Count).where(Count.id == newest).values(current=True))


def filled(rows: Sequence[Week], until: str | None = None) -> tuple[list[str], list[int]]:
    """Consecutive weeks from the first report (to `until`), a week not reported as 0."""
    if not rows:
        return [], []
    by_period = {w.period: w.count for w in rows}
    periods = weeks.span(rows[0].period, until or rows[-1].period)
    return periods, [by_period.get(p, 0) for p in periods]


def analyse(
    node: Node,
    key: SeriesKey,
    method: str | None = None,
    alpha: float | None = None,
    recent: int | None = None,
    labels: Collection[str] | None = None,
) -> list[detect.Point]:
    """Detection over one series; only the last `recent` weeks get thresholds. Results
    are kept for the same figures, so pages do not refit Farrington's models each time."""
    periods, counts = filled(series(node, key, labels))
    if not periods:
        return []
    method = method or node.settings.health_method
    first = max(0, len(periods) - recent) if recent else 0
    memo = (method, alpha, first, periods[0], tuple(counts))
    found = _analysed.get(memo)
    if found is None:
        found = detect.detect(periods, counts, method, alpha, first=first)
        if len(_analysed) >= _ANALYSED_MAX:
            _analysed.pop(next(iter(_analysed)))
        _analysed[memo] = found
    return found


_analysed: dict[tuple[Any, ...], list[detect.Point]] = {}
_ANALYSED_MAX = 2048


# Detection and signals --------------------------------------------------------------


def run_detection(node: Node, method: str | None = None) -> list[Signal]:
    """Check the latest weeks of each of our own series; a new alarm becomes an open
    signal (one per series, week and method)."""
    method = method or node.settings.health_method
    recent = node.settings.health_recent_weeks
    raised: list[Signal] = []
    for info in catalogue(node):
        if info.key.member != node.member_id:
            continue
        try:
            points = analyse(node, info.key, method, recent=recent)
        except JembatanError as exc:
            log.warning(
                "detection failed", disease=info.key.disease, area=info.key.area, reason=exc.detail
            )
            continue
        for point in points:
            if point.alarm and point.threshold is not None:
                signal = _raise(node, info.key, point, method)
                if signal is not None:
                    raised.append(signal)
    return raised


def _raise(node: Node, key: SeriesKey, point: detect.Point, method: str) -> Signal | None:
    with node.transaction() as s:
        exists = s.scalar(
            select(Signal.id).where(
                Signal.member == key.member,
                Signal.disease == key.disease,
                Signal.area == key.area,
                Signal.period == point.period,
                Signal.method == method,
            )
        )
        if exists is not None:
            return None
        signal = Signal(
            id=uuid7(),
            member=key.member,
            disease=key.disease,
            area=key.area,
            period=point.period,
            method=method,
            count=point.count,
            threshold=float(point.threshold or 0.0),
            score=point.score,
            status="open",
            note="",
            created_at=utcnow(),
            sent="{}",
        )
        s.add(signal)
        try:
            s.flush()
        except IntegrityError:  # another run raised it at the same moment
            return None
        record(s, Event(SIGNAL_RAISED, node.member_id, signal.id, _signal_facts(signal)))
    return signal


def _signal_facts(signal: Signal) -> dict[str, Any]:
    return {
        "member": signal.member,
        "disease": signal.disease,
        "area": signal.area,
        "period": signal.period,
        "method": signal.method,
        "count": signal.count,
        "threshold": round(signal.threshold, 4),
        "status": signal.status,
    }


def signals(node: Node, status: str | None = None, limit: int = 200) -> list[Signal]:
    query = select(Signal).order_by(Signal.period.desc(), Signal.created_at.desc())
    if status:
        query = query.where(Signal.status == status)
    with node.db() as s:
        return list(s.scalars(query.limit(min(limit, 1000))))


def get_signal(node: Node, signal_id: str) -> Signal:
    with node.db() as s:
        signal = s.get(Signal, signal_id)
    if signal is None:
        raise NotFound("no signal {id}", id=signal_id)
    return signal


def review(
    node: Node,
    signal_id: str,
    decision: str,
    note: str,
    actor: str,
    user_id: int | None = None,
) -> Signal:
    """Confirm or dismiss an open signal; a confirmed one goes to every partner an active
    agreement lets us send surveillance to, each under its own agreement."""
    if decision not in DECISIONS:
        raise InvalidInput("decide 'confirm' or 'dismiss'")
    note = note.strip()
    if len(note) > 4000:
        raise InvalidInput("the note must be at most 4000 characters")
    with node.transaction() as s:
        signal = s.get(Signal, signal_id, with_for_update=True)
        if signal is None:
            raise NotFound("no signal {id}", id=signal_id)
        if signal.status != "open":
            raise InvalidInput(
                "signal {id} is already {status}", id=signal_id, status=signal.status
            )
        signal.status = DECISIONS[decision]
        signal.note = note
        signal.reviewed_by = actor
        signal.reviewed_at = utcnow().replace(microsecond=0)
        record(s, Event(SIGNAL_REVIEWED, actor, signal.id, {**_signal_facts(signal), "note": note}))
    if signal.status == "confirmed":
        sent = {}
        for partner in partners(node):
            try:  # one partner refused (its agreement just ended, say) stops no other
                message = exchange.send(
                    node,
                    [partner],
                    _signal_subject(signal),
                    signal_document(signal),
                    content_type=SIGNAL_TYPE,
                    classification="TLP:AMBER",
                    user_id=user_id,
                    kind=KIND,
                )
            except JembatanError as exc:
                log.warning("signal not sent", partner=partner, reason=exc.detail)
                continue
            sent[partner] = message.id
        with node.transaction() as s:
            row = s.get(Signal, signal_id)
            assert row is not None
            row.sent = json.dumps(sent, sort_keys=True)
            signal = row
    return signal


def _signal_subject(signal: Signal) -> str:
    return (
        f"Outbreak signal: {codes.disease_name(signal.disease)} in "
        f"{codes.area_name(signal.area)} ({signal.area}), {signal.period}"
    )


def signal_document(signal: Signal) -> bytes:
    doc = {
        "format": SIGNAL_FORMAT,
        "id": signal.id,
        "member": signal.member,
        "disease": signal.disease,
        "area": signal.area,
        "period": signal.period,
        "method": signal.method,
        "count": signal.count,
        "threshold": signal.threshold,
        "score": signal.score,
        "note": signal.note,
        "confirmed_by": signal.reviewed_by,
        "confirmed_at": stamp(signal.reviewed_at) if signal.reviewed_at else None,
    }
    return json.dumps(doc, sort_keys=True).encode()


def partners(node: Node, kind: str = KIND, classification: str = "TLP:AMBER") -> list[str]:
    """Members an active agreement lets us send `kind` to, one at a time."""
    out = []
    for member in (m.id for m in other_members(node)):
        try:
            rules.choose(node, node.member_id, [member], kind, classification)
        except JembatanError:
            continue
        out.append(member)
    return out


# Sharing ----------------------------------------------------------------------------


def share(
    node: Node,
    to: Sequence[str],
    disease: str | None = None,
    first: str | None = None,
    last: str | None = None,
    classification: str = "TLP:AMBER",
    agreement: str | None = None,
    user_id: int | None = None,
) -> list[Message]:
    """Send our own current counts (optionally one disease, a span of weeks) to each
    partner as a FHIR Bundle of MeasureReports, each under its agreement."""
    check_classification(classification)
    for bound in (first, last):
        if bound is not None:
            try:
                weeks.parse(bound)
            except ValueError as exc:
                raise InvalidInput("{reason}", reason=str(exc)) from None
    query = select(Count).where(Count.member == node.member_id, Count.current.is_(True))
    if disease:
        query = query.where(Count.disease == disease)
    if first:
        query = query.where(Count.period >= first)
    if last:
        query = query.where(Count.period <= last)
    with node.db() as s:
        held = list(s.scalars(query.order_by(Count.disease, Count.area, Count.period)))
        labels = set(
            s.scalars(
                select(Report.classification)
                .where(Report.id.in_({c.report_id for c in held}))
                .distinct()
            )
        )
    if not held:
        raise InvalidInput("there are no counts of ours to share for that choice")
    highest = max(labels, key=TLP.index)
    if TLP.index(classification) < TLP.index(highest):
        raise InvalidInput(
            "these counts are classified {held}; they cannot be shared as {label}",
            held=highest,
            label=classification,
        )
    if not to:
        raise InvalidInput("name at least one partner to share with")
    observations = [
        reports.Observation(c.disease, c.area, c.period, c.count, c.population) for c in held
    ]
    span = f"{held[0].period}..{max(c.period for c in held)}"
    diseases = ", ".join(sorted({c.disease for c in held}))
    sent = []
    for partner in to:
        payload = reports.to_fhir(observations, node.member_id, uuid7())
        sent.append(
            exchange.send(
                node,
                [partner],
                f"Surveillance counts {diseases}, {span}",
                payload,
                content_type=FHIR_TYPE,
                filename="surveillance.json",
                classification=classification,
                user_id=user_id,
                kind=KIND,
                agreement=agreement,
            )
        )
    return sent


def ingest(node: Node) -> int:
    """Take in what partners sent under `health.surveillance` and is not yet held: counts
    into their series (with the message as provenance), confirmed signals into the queue.
    A file that fails validation is kept as a refused report naming its problems. A node
    whose keys are locked (a CLI command without the passphrase) leaves them for `serve`."""
    if node.keyring is None:
        return 0
    with node.db() as s:
        waiting = list(
            s.scalars(
                select(Message)
                .outerjoin(Report, Report.message_id == Message.id)
                .outerjoin(Signal, Signal.message_id == Message.id)
                .where(
                    Message.box == "inbox",
                    Message.kind == KIND,
                    Report.id.is_(None),
                    Signal.id.is_(None),
                )
                .order_by(Message.id)
                .limit(100)
            )
        )
    for message in waiting:
        try:
            payload = exchange.read_payload(node, message)
        except Exception as exc:
            _refuse(node, message, b"", "message", f"the message could not be read: {exc}")
            continue
        if message.content_type.split(";")[0].strip() == SIGNAL_TYPE:
            _take_signal(node, message, payload)
        else:
            _take_report(node, message, payload)
    return len(waiting)


def _refuse(node: Node, message: Message, payload: bytes, where: str, reason: str) -> None:
    """Keep what could not be taken in as a refused report, so it is not read again."""
    digest = hashlib.sha256(payload).hexdigest()
    with node.transaction() as s:
        report = Report(
            id=uuid7(),
            member=message.sender,
            source="received",
            format="signal" if message.content_type.startswith(SIGNAL_TYPE) else "fhir",
            sha256=digest,
            classification=message.classification,
            observations=0,
            changed=0,
            problems=json.dumps([{"location": where, "message": reason}]),
            message_id=message.id,
            agreement_id=message.agreement_id,
            created_at=utcnow(),
        )
        s.add(report)
        s.flush()
        record(
            s,
            Event(
                REPORT_RECEIVED,
                message.sender,
                report.id,
                {
                    "member": message.sender,
                    "refused": 1,
                    "message": message.id,
                    "agreement": message.agreement_id,
                },
                {"file": digest},
            ),
        )
    log.warning("partner surveillance refused", sender=message.sender, reason=reason)


def _take_report(node: Node, message: Message, payload: bytes) -> None:
    digest = hashlib.sha256(payload).hexdigest()
    try:
        parsed: reports.Parsed | None = reports.parse(payload, message.content_type)
        problems = None
    except reports.ReportInvalid as exc:
        parsed, problems = (
            None,
            [{"location": p.location, "message": p.message} for p in exc.problems],
        )
    with node.transaction() as s:
        if parsed is not None:
            report = _store(
                s,
                parsed,
                member=message.sender,
                source="received",
                sha256=digest,
                filename=message.filename,
                classification=message.classification,
                message_id=message.id,
                agreement_id=message.agreement_id,
            )
            facts = _report_facts(report, parsed)
        else:
            report = Report(
                id=uuid7(),
                member=message.sender,
                source="received",
                format="fhir",
                filename=message.filename,
                sha256=digest,
                classification=message.classification,
                observations=0,
                changed=0,
                problems=json.dumps(problems),
                message_id=message.id,
                agreement_id=message.agreement_id,
                created_at=utcnow(),
            )
            s.add(report)
            facts = {"member": message.sender, "refused": len(problems or [])}
        record(
            s,
            Event(
                REPORT_RECEIVED,
                message.sender,
                report.id,
                {**facts, "message": message.id, "agreement": message.agreement_id},
                {"file": digest},
            ),
        )
    if problems:
        log.warning("partner report refused", sender=message.sender, problems=len(problems))


def _take_signal(node: Node, message: Message, payload: bytes) -> None:
    try:
        doc = json.loads(payload)
        if doc.get("format") != SIGNAL_FORMAT or doc.get("member") != message.sender:
            raise ValueError("not a signal of the sender's own series")
        signal = Signal(
            id=uuid7(),
            member=message.sender,
            disease=str(doc["disease"]),
            area=str(doc["area"]),
            period=str(doc["period"]),
            method=str(doc["method"])[:16],
            count=int(doc["count"]),
            threshold=float(doc["threshold"]),
            score=float(doc["score"]) if doc.get("score") is not None else None,
            status="received",
            note=str(doc.get("note") or "")[:4000],
            reviewed_by=str(doc.get("confirmed_by") or "")[:900] or None,
            created_at=utcnow(),
            message_id=message.id,
            sent="{}",
        )
        weeks.parse(signal.period)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        _refuse(node, message, payload, "signal", str(exc))
        return
    with node.transaction() as s:
        s.add(signal)
        s.flush()
        record(
            s,
            Event(
                SIGNAL_RECEIVED,
                message.sender,
                signal.id,
                {**_signal_facts(signal), "message": message.id},
            ),
        )


def reports_held(node: Node, limit: int = 100) -> list[Report]:
    with node.db() as s:
        return list(s.scalars(select(Report).order_by(Report.id.desc()).limit(min(limit, 1000))))


def get_report(node: Node, report_id: str) -> Report:
    with node.db() as s:
        report = s.get(Report, report_id)
    if report is None:
        raise NotFound("no report {id}", id=report_id)
    return report


def sent_to(signal: Signal) -> dict[str, str]:
    """Partner -> message id, for a confirmed signal of ours."""
    return dict(json.loads(signal.sent or "{}"))


# Case-level data ----------------------------------------------------------------------

CASES_KIND = "health.cases"


def send_cases(
    node: Node,
    data: bytes,
    to: str,
    agreement: str | None = None,
    user_id: int | None = None,
    classification: str = "TLP:AMBER",
) -> Message:
    """Patients and their conditions for cross-border contact tracing. They leave only
    under an agreement whose field rules pseudonymise every identifying field; the
    exchange applies those rules before sealing."""
    bundle = cases.parse_cases(data)
    terms = rules.choose(node, node.member_id, [to], CASES_KIND, classification, agreement)
    assert terms is not None  # only agreement steps go without terms
    missing = [
        f
        for f in cases.identifying_fields()
        if not any(f == p or f.startswith(p + ".") for p in terms.field_rules.pseudonymise)
    ]
    if missing:
        raise Forbidden(
            "case-level data goes only under an agreement whose field rules pseudonymise "
            "{fields}; agreement {id} ({title}) does not",
            fields=", ".join(missing),
            id=terms.id,
            title=terms.title,
        )
    return exchange.send(
        node,
        [to],
        f"Case reports for contact tracing ({bundle.patients} patients)",
        data,
        content_type=FHIR_TYPE,
        filename="cases.json",
        classification=classification,
        user_id=user_id,
        kind=CASES_KIND,
        agreement=terms.id,
    )
