"""A durable outbox: messages of a kind, written in the caller's transaction, delivered to a handler.

It knows nothing of dossiers.
"""

from outbox.models import MessageState, OutboxMessage
from outbox.store import cancel_pending, enqueue

__all__ = ["MessageState", "OutboxMessage", "cancel_pending", "enqueue"]
