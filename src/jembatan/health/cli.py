"""`jembatan health detect | import | series | share | run | signals | review | cases`:
surveillance counts, outbreak detection and signals from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from jembatan.cli.common import DataDir, Json, clear_errors, fail, open_node, print_json
from jembatan.errors import InvalidInput
from jembatan.health import detect, reports, services
from jembatan.health.documents import (
    point_doc,
    read_series_csv,
    report_doc,
    series_doc,
    signal_doc,
)
from jembatan.ledger.entries import console

health_app = typer.Typer(
    help="Health surveillance: weekly counts, outbreak detection, signals to partners.",
    no_args_is_help=True,
)
Method = Annotated[
    str, typer.Option(help="ears-c1, ears-c2, ears-c3 or farrington.", show_default=True)
]
Alpha = Annotated[float | None, typer.Option(help="Significance level (default per method).")]


@health_app.command("detect")
@clear_errors
def detect_file(
    input_file: Annotated[
        Path, typer.Option("--input", exists=True, dir_okay=False, help="CSV: period,count.")
    ],
    method: Method = "ears-c1",
    alpha: Alpha = None,
    as_json: Json = False,
) -> None:
    """Run a detection method over a CSV of weekly counts (no node needed)."""
    periods, counts = read_series_csv(input_file.read_bytes())
    points = detect.detect(periods, counts, method, alpha)
    if as_json:
        print_json([point_doc(p) for p in points])
        return
    for p in points:
        bound = "-" if p.threshold is None else f"{p.threshold:.2f}"
        typer.echo(f"{p.period}  {p.count:>7}  {bound:>9}  {'ALARM' if p.alarm else ''}")


@health_app.command("import")
@clear_errors
def import_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="FHIR JSON or CSV.")],
    data_dir: DataDir = None,
    classification: Annotated[str, typer.Option(help="TLP label of the counts.")] = "TLP:AMBER",
    as_json: Json = False,
) -> None:
    """Import a file of our own weekly counts (a bad file lists every problem)."""
    node = open_node(data_dir)
    try:
        report = services.import_report(
            node, path.read_bytes(), path.name, classification, actor=console(node)
        )
    except reports.ReportInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"{problem.location}: {problem.message}", err=True)
        fail(f"{len(exc.problems)} problem(s); nothing was stored", 2)
    finally:
        node.close()
    doc = report_doc(report)
    if as_json:
        print_json(doc)
    else:
        typer.echo(
            f"report {report.id}: {report.observations} weekly counts, {report.changed} new "
            "or corrected"
        )


@health_app.command("series")
@clear_errors
def show_series(
    data_dir: DataDir = None,
    member: Annotated[str | None, typer.Option(help="Whose series (default: ours).")] = None,
    disease: Annotated[str | None, typer.Option(help="ICD-10 code, e.g. A90.")] = None,
    area: Annotated[str | None, typer.Option(help="ISO 3166-2 code, e.g. ID-JK.")] = None,
    method: Annotated[str | None, typer.Option(help="Detection method to add.")] = None,
    as_json: Json = False,
) -> None:
    """List the series held, or with --disease and --area, one series week by week."""
    node = open_node(data_dir)
    try:
        services.ingest(node)
        if not (disease and area):
            infos = services.catalogue(node)
            if as_json:
                print_json([series_doc(i) for i in infos])
            for i in infos if not as_json else []:
                typer.echo(
                    f"{i.key.member}  {i.key.disease}  {i.key.area}  {i.first}..{i.last}  "
                    f"({i.weeks} weeks, latest {i.latest})"
                )
            return
        key = services.SeriesKey(member or node.member_id, disease, area)
        rows = services.series(node, key)
        if not rows:
            raise InvalidInput("no series {d} in {a} from {m}", d=disease, a=area, m=key.member)
        points = {p.period: p for p in services.analyse(node, key, method)} if method else {}
    finally:
        node.close()
    out = []
    for w in rows:
        doc: dict[str, Any] = {"period": w.period, "count": w.count, "population": w.population}
        if w.period in points:
            doc.update(point_doc(points[w.period]))
        out.append(doc)
    if as_json:
        print_json(out)
        return
    for doc in out:
        extra = ""
        if doc.get("threshold") is not None:
            extra = f"  threshold {doc['threshold']:.2f}{'  ALARM' if doc['alarm'] else ''}"
        typer.echo(f"{doc['period']}  {doc['count']:>7}{extra}")


@health_app.command("share")
@clear_errors
def share(
    to: Annotated[list[str], typer.Option("--to", help="Partner member id (repeat).")],
    data_dir: DataDir = None,
    disease: Annotated[str | None, typer.Option(help="Only this ICD-10 code.")] = None,
    since: Annotated[str | None, typer.Option("--from", help="First ISO week.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last ISO week.")] = None,
    classification: Annotated[str, typer.Option(help="TLP label.")] = "TLP:AMBER",
    agreement: Annotated[str | None, typer.Option(help="Agreement id to send under.")] = None,
    as_json: Json = False,
) -> None:
    """Send our counts to partners as FHIR MeasureReports, under agreement."""
    node = open_node(data_dir, unlock=True)
    try:
        sent = services.share(node, to, disease, since, until, classification, agreement)
    finally:
        node.close()
    docs = [{"id": m.id, "to": m.recipients, "agreement": m.agreement_id} for m in sent]
    if as_json:
        print_json(docs)
    for m in sent if not as_json else []:
        typer.echo(f"queued {m.id} to {m.recipients} under {m.agreement_id}")


@health_app.command("run")
@clear_errors
def run(
    data_dir: DataDir = None,
    method: Annotated[str | None, typer.Option(help="Default: JEMBATAN_HEALTH_METHOD.")] = None,
    as_json: Json = False,
) -> None:
    """Take in partners' reports, then check our own series; alarms become signals."""
    node = open_node(data_dir)
    try:
        services.ingest(node)
        raised = services.run_detection(node, method)
    finally:
        node.close()
    if as_json:
        print_json([signal_doc(s) for s in raised])
        return
    typer.echo(f"{len(raised)} new signal(s)")
    for s in raised:
        typer.echo(f"  {s.id}  {s.disease} {s.area} {s.period}  {s.count} > {s.threshold:.1f}")


@health_app.command("signals")
@clear_errors
def list_signals(
    data_dir: DataDir = None,
    status: Annotated[
        str | None, typer.Option(help="open, confirmed, dismissed or received.")
    ] = None,
    as_json: Json = False,
) -> None:
    """The signal queue: ours to review, and partners' confirmed ones."""
    node = open_node(data_dir)
    try:
        services.ingest(node)
        found = services.signals(node, status)
    finally:
        node.close()
    if as_json:
        print_json([signal_doc(s) for s in found])
        return
    for s in found:
        typer.echo(
            f"{s.id}  {s.status:<9}  {s.member}  {s.disease} {s.area} {s.period}  "
            f"{s.count} > {s.threshold:.1f} ({s.method})"
        )


@health_app.command("review")
@clear_errors
def review(
    signal_id: Annotated[str, typer.Argument(help="The signal's id.")],
    decision: Annotated[str, typer.Option(help="confirm or dismiss.")],
    data_dir: DataDir = None,
    note: Annotated[str, typer.Option(help="Why; goes with a confirmed signal.")] = "",
    as_json: Json = False,
) -> None:
    """Confirm (and tell partners) or dismiss an open signal."""
    node = open_node(data_dir, unlock=decision == "confirm")
    try:
        signal = services.review(node, signal_id, decision, note, console(node))
    finally:
        node.close()
    if as_json:
        print_json(signal_doc(signal))
    else:
        sent = services.sent_to(signal)
        told = f"; sent to {', '.join(sent)}" if sent else ""
        typer.echo(f"signal {signal.id} {signal.status}{told}")


@health_app.command("cases")
@clear_errors
def send_cases(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="FHIR Bundle.")],
    to: Annotated[str, typer.Option("--to", help="The partner member id.")],
    data_dir: DataDir = None,
    agreement: Annotated[str | None, typer.Option(help="Agreement id to send under.")] = None,
    as_json: Json = False,
) -> None:
    """Send case-level data (Patient + Condition) for contact tracing; only under an
    agreement whose field rules pseudonymise the identifiers."""
    node = open_node(data_dir, unlock=True)
    try:
        message = services.send_cases(node, path.read_bytes(), to, agreement)
    except reports.ReportInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"{problem.location}: {problem.message}", err=True)
        fail(f"{len(exc.problems)} problem(s); nothing was sent", 2)
    finally:
        node.close()
    doc = {"id": message.id, "to": to, "agreement": message.agreement_id}
    if as_json:
        print_json(doc)
    else:
        typer.echo(f"queued {message.id} to {to} under {message.agreement_id}")
