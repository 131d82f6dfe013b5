"""Prometheus metrics, one registry per app so several nodes can share a process in tests."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

import jembatan


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "jembatan_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "jembatan_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route"],
            registry=self.registry,
        )
        self.logins = Counter(
            "jembatan_logins",
            "Portal login attempts, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.refused = Counter(
            "jembatan_envelopes_refused",
            "Envelopes from verified members that this node refused (agreement, field rules, "
            "expiry, ...), by sender and HTTP status",
            ["sender", "status"],
            registry=self.registry,
        )
        self.gateway_calls = Counter(
            "jembatan_gateway_calls",
            "Service gateway calls, by role (consumer: our clients' calls out; provider: calls "
            "to our services) and outcome (ok, or the X-Road-Error type)",
            ["role", "outcome"],
            registry=self.registry,
        )
        self.ledger_entries = Gauge(
            "jembatan_ledger_entries", "Entries in this node's ledger", registry=self.registry
        )
        self.ledger_checkpoint = Gauge(
            "jembatan_ledger_checkpoint_size",
            "Tree size of the latest signed checkpoint",
            registry=self.registry,
        )
        self.ledger_alerts = Gauge(
            "jembatan_ledger_alerts",
            "Peers' checkpoints that failed a witness check (fork, rollback, inconsistent)",
            registry=self.registry,
        )
        info = Gauge("jembatan_build_info", "Software version", ["version"], registry=self.registry)
        info.labels(version=jembatan.__version__).set(1)
