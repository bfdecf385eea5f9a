"""Operator alerts (docs/contracts/alerts.md): dead messages, a peer's outage, a backlog, and their recovery,
each an outbox message to GATEWAY_ALERT_WEBHOOK_URL, grouped per kind and target."""
