"""Delivery of stored dossiers to the ministry: the outbox handlers and the worker that runs them."""
