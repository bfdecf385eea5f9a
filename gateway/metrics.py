"""Prometheus metrics (contracts/gateway-operations.md: what an operator watches)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INTAKE_REQUESTS = Counter(
    "gateway_intake_requests_total", "Dossier submissions by answer status code", ["result"]
)
OUTBOX_MESSAGES = Gauge("gateway_outbox_messages", "Outbox messages by kind and state", ["kind", "state"])
OLDEST_UNDELIVERED = Gauge(
    "gateway_outbox_oldest_undelivered_seconds", "Age of the oldest pending or in-flight message", ["kind"]
)
DELIVERY_ATTEMPTS = Counter(
    "gateway_delivery_attempts_total", "Delivery attempts by kind and outcome", ["kind", "outcome"]
)
DELIVERY_LATENCY = Histogram(
    "gateway_delivery_latency_seconds",
    "From enqueue to successful delivery",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
DOSSIERS_OVERDUE = Gauge(
    "gateway_dossiers_overdue", "Dossiers past their promised date (NgayHenTra) and not at a final status"
)
RECONCILER_LAG = Gauge(
    "gateway_reconciler_lag_seconds",
    "Seconds since the ministry change feed was last read successfully (by any reconciler sharing the database)",
)
CIRCUIT_STATE = Gauge(
    "gateway_circuit_state", "Circuit breaker state in this process: 0 closed, 1 half-open, 2 open", ["target"]
)
RETENTION_PURGED = Counter(
    "gateway_retention_purged_total", "Finished messages deleted by the worker's periodic retention purge"
)
IDENTITY_CHECKS = Counter(
    "gateway_identity_checks_total",
    "Revisions checked against the population database, by outcome (verified, mismatch, not_found, deceased, "
    "unverified)",
    ["outcome"],
)
DOSSIERS_IN_CONFLICT = Gauge(
    "gateway_dossiers_in_conflict",
    "Dossiers whose ministry copy holds other content (delivery state conflict): an administrator decides",
)
IDENTITY_HELD = Gauge("gateway_identity_held", "Dossiers held because the population database disagrees")
IDENTITY_OLDEST_HELD = Gauge(
    "gateway_identity_oldest_held_seconds", "Age of the oldest held dossier's check (0 when none is held)"
)
ALERTS = Counter(
    "gateway_alerts_total",
    "Operator alerts by kind, state (firing, resolved) and outcome (queued, sent, dead)",
    ["kind", "state", "outcome"],
)
