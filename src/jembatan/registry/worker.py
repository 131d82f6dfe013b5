"""Periodic federation chores inside `serve`: refresh directories, settle rotated keys,
forget nonces too old to replay."""

from __future__ import annotations

import threading

from jembatan.agreements import retention
from jembatan.errors import JembatanError
from jembatan.gateway import services as gateway
from jembatan.health import services as health
from jembatan.logs import get_logger
from jembatan.node.context import Node
from jembatan.registry import membership, peers
from jembatan.workspaces import notify as workspace_notices
from jembatan.workspaces import replication as workspace_replication
from jembatan.workspaces import retention as workspace_retention

log = get_logger("jembatan.registry")


def tick(node: Node) -> None:
    node.sync_keys()
    if membership.own_anchor(node) is not None:
        try:
            for result in membership.refresh(node):
                if result.changed:
                    log.info("directory accepted", instance=result.instance, serial=result.serial)
                if result.error:
                    log.warning("directory refused", instance=result.instance, reason=result.error)
        except JembatanError as exc:
            log.warning("directory refresh failed", reason=exc.detail)
        try:
            gateway.announce(node)
        except JembatanError as exc:
            log.warning("services not announced", reason=exc.detail)
    peers.forget_old_nonces(node)
    retention.purge_due(node)
    try:
        health.refresh_current(node)  # a purge may have taken a week's newest version
        health.ingest(node)
        health.run_detection(node)
    except JembatanError as exc:
        log.warning("surveillance chores failed", reason=exc.detail)
    try:
        workspace_replication.ingest(node)
        workspace_replication.flush_all(node)  # events a failed send left behind
        workspace_retention.purge_due(node)
        workspace_notices.send_mail(node)
        workspace_notices.deliver_hooks(node)
    except JembatanError as exc:
        log.warning("workspace chores failed", reason=exc.detail)


def run_periodic(node: Node, stop: threading.Event) -> None:
    interval = node.settings.directory_refresh_seconds
    stop.wait(2)  # let the HTTP server come up first: a registry fetches from itself
    while not stop.is_set():
        try:
            tick(node)
        except Exception:  # keep the node serving; the next tick tries again
            log.exception("periodic task failed")
        stop.wait(interval)
