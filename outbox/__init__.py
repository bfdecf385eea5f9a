"""A durable outbox: messages of a kind, written in the caller's transaction, delivered to a handler.

It knows nothing of dossiers.
"""

from outbox.breaker import CircuitBreaker, CircuitState
from outbox.circuits import SharedCircuits
from outbox.dispatcher import Dispatcher, DispatcherConfig, Finish, Handler
from outbox.errors import DeliveryError, PermanentError, TransientError
from outbox.models import MessageState, OutboxMessage
from outbox.retry import RetryPolicy
from outbox.store import Message, cancel_pending, enqueue

__all__ = [
    "CircuitBreaker", "CircuitState", "DeliveryError", "Dispatcher", "DispatcherConfig", "Finish", "Handler",
    "Message", "MessageState", "OutboxMessage", "PermanentError", "RetryPolicy", "SharedCircuits", "TransientError",
    "cancel_pending", "enqueue",
]
