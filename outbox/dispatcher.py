"""The dispatch loop: claim due messages under a lease, hand each to its kind's handler, record the outcome.

Bounded concurrency (``concurrency`` messages at once per process), leases renewed while handlers
run, a circuit breaker per target, and a clean stop that hands unfinished messages back. Under load
one claim serves several messages (claimed ahead of the free slots) and one transaction completes
several successes (group commit): bench/delivery.py measures what that saves.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlmodel import Session

from outbox import store
from outbox.breaker import CircuitBreaker, CircuitSnapshot, CircuitState
from outbox.circuits import SharedCircuits, Verdict
from outbox.columns import utcnow
from outbox.errors import DeliveryError, PermanentError, TransientError
from outbox.retry import RetryPolicy
from outbox.store import Message

log = structlog.get_logger(__name__)

CLAIM_BACKOFF_CAP_S = 5.0
"""Longest pause between claim rounds while the database keeps failing."""

Finish = Callable[[Session], None]
"""What a handler wants written in the transaction that marks its message done."""

SessionFactory = Callable[..., AbstractContextManager[Session]]
"""``factory(write=True)`` opens a write transaction (committed on exit); e.g. ``Database.session``."""


class Handler(Protocol):
    """Delivers the messages of one kind to one target (the peer whose breaker guards it)."""

    kind: str
    target: str

    async def handle(self, message: Message) -> Finish | None:
        """Deliver; raise TransientError or PermanentError on failure. Any other exception counts as
        transient (a bug, most likely: it is logged with its traceback and retried until it goes dead)."""
        ...

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Record, in the rescheduling transaction, that an attempt failed and will be retried."""
        ...

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """Record, in the transaction that buries the message, that it failed for good."""
        ...


class ClaimAware(Protocol):
    """A handler that also records something when its messages are claimed (optional, besides :class:`Handler`)."""

    def on_claimed(self, session: Session, messages: list[Message]) -> None:
        """Record, in the claiming transaction, that ``messages`` were taken (e.g. a "delivering" state);
        cheaper than a transaction of its own when each attempt starts."""
        ...


class OwnPolicy(Protocol):
    """A handler whose messages retry by a policy of their own (optional, besides :class:`Handler`):
    e.g. a step that must keep trying for a day while the dispatcher's other messages give up sooner."""

    policy: RetryPolicy


DeadHook = Callable[[Session, Message, DeliveryError], None]
"""Called for every message that goes dead, after its handler's ``on_dead``, in the transaction that buries it
(e.g. to enqueue an alert that exists if and only if the message is dead)."""

Observer = Callable[[Message, str, float], None]
"""Called after each attempt with its outcome (``done``, ``retry``, ``dead``, ``lost``) and duration."""


@dataclass(frozen=True)
class DispatcherConfig:
    """Tuning of one dispatcher process."""

    concurrency: int = 8
    lease_s: float = 60.0
    poll_s: float = 1.0
    attempt_timeout_s: float = 300.0
    stop_grace_s: float = 10.0
    prefetch: int | None = None
    """Messages claimed ahead of the free slots, started as slots free up (None: ``concurrency``; 0: none).
    One claim then serves many messages instead of about one each; only while the target's breaker is
    closed, and those held wait for their breaker like any other."""

    @property
    def claim_ahead(self) -> int:
        """The prefetch in force."""
        return self.concurrency if self.prefetch is None else max(0, self.prefetch)


def default_owner() -> str:
    """A lease owner name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """Runs the handlers of the registered kinds over the outbox until stopped."""

    def __init__(
        self,
        sessions: SessionFactory,
        handlers: Iterable[Handler],
        *,
        config: DispatcherConfig | None = None,
        policy: RetryPolicy | None = None,
        breakers: dict[str, CircuitBreaker] | None = None,
        owner: str | None = None,
        observer: Observer | None = None,
        circuits: SharedCircuits | None = None,
        on_dead: DeadHook | None = None,
    ) -> None:
        self._sessions = sessions
        self._on_dead = on_dead
        self._handlers = {h.kind: h for h in handlers}
        self._claim_hooks: dict[str, Callable[[Session, list[Message]], None]] = {
            kind: hook for kind, h in self._handlers.items() if callable(hook := getattr(h, "on_claimed", None))}
        self.config = config or DispatcherConfig()
        self.policy = policy or RetryPolicy()
        self.breakers = breakers if breakers is not None else {}
        for handler in self._handlers.values():
            self.breakers.setdefault(handler.target, CircuitBreaker())
        if circuits is not None and any(b.clock is not circuits.clock for b in self.breakers.values()):
            raise ValueError("shared circuit breakers must all run on the shared circuits' clock")
        self._circuits = circuits  # None: each breaker is this process's alone
        self._probes: set[int] = set()  # messages claimed as their shared circuit's probe
        self._synced_at = 0.0  # when the shared circuits were last read (monotonic)
        self.owner = owner or default_owner()
        self._observer = observer
        self._running: dict[int, asyncio.Task[None]] = {}
        self._ready: dict[str, deque[Message]] = {}  # claimed ahead, by target, not started yet
        self._done: list[_Done] = []  # successes waiting for the next completing transaction
        self._completer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def circuit_states(self) -> dict[str, CircuitState]:
        """Each target's breaker state (for readiness and metrics)."""
        return {target: breaker.state for target, breaker in self.breakers.items()}

    def wake(self) -> None:
        """Look for due messages now rather than at the next poll (e.g. right after an enqueue)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask :meth:`run` to stop claiming, finish or hand back what it holds, and return."""
        self._stopping.set()
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """How many messages this process is handling now."""
        return len(self._running)

    async def run(self) -> None:
        """Claim and dispatch until :meth:`stop`; then wait ``stop_grace_s`` and hand back the rest."""
        log.info("dispatcher_started", owner=self.owner, kinds=sorted(self._handlers),
                 concurrency=self.config.concurrency)
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            failures = 0
            while not self._stopping.is_set():
                # Cleared before the round, not after: a slot freed while the round runs must wake the next
                # one, or it would stay idle until another message ends (or the poll).
                self._wake.clear()
                try:
                    claimed = await self._claim_round()
                    failures = 0
                except Exception:
                    # The database is away (restart, failover): keep the loop alive, back off, retry.
                    failures += 1
                    log.exception("claim_failed", failures=failures)
                    claimed = 0
                    self._wake.clear()  # the backoff holds whatever ended meanwhile
                if claimed:
                    continue
                pause = min(self.config.poll_s * 2 ** min(failures, 6), CLAIM_BACKOFF_CAP_S) if failures \
                    else self.config.poll_s
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=pause)
        finally:
            heartbeat.cancel()
            await self._shutdown()
            log.info("dispatcher_stopped", owner=self.owner)

    async def run_until_idle(self, within_s: float = 30.0, *, horizon_s: float = 1.0) -> None:
        """Dispatch until nothing is in flight and nothing falls due within ``horizon_s`` (tests, one-shot
        jobs); TimeoutError if that takes longer than ``within_s``."""
        deadline = time.monotonic() + within_s
        while True:
            claimed = await self._claim_round()
            if not claimed and not self._running and not self._held():
                upcoming = await asyncio.to_thread(self._next_due)
                if upcoming is None or (upcoming - utcnow()).total_seconds() > horizon_s:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("outbox not idle")
            if not claimed:
                await asyncio.sleep(0.02)

    def _next_due(self) -> datetime | None:
        with self._sessions() as session:
            return store.next_due(session, list(self._handlers))

    async def _claim_round(self) -> int:
        """Start held messages, then claim what the free capacity (plus the prefetch) and the breakers
        allow, and start a task per message while slots are free; the rest is held for the next slots."""
        capacity = self.config.concurrency - len(self._running)
        if capacity <= 0:
            return 0  # a slot frees when a task ends, and that wakes the next round
        started = self._start_held(capacity)
        capacity -= started
        if capacity <= 0:
            return started
        plan: list[tuple[list[str], int, str]] = []
        by_target: dict[str, list[str]] = {}
        for kind, handler in self._handlers.items():
            by_target.setdefault(handler.target, []).append(kind)
        for target, kinds in by_target.items():
            if self._ready.get(target):
                continue  # its breaker holds them back: claim no more for it
            allowance = self.breakers[target].allowance()
            if allowance == 0:
                continue
            limit = capacity + self.config.claim_ahead if allowance is None else min(allowance, capacity)
            plan.append((kinds, limit, target))
        if not plan and not self._sync_due():
            return started
        claimed, circuits = await asyncio.to_thread(self._claim, plan)
        self._adopt(circuits)
        for message, target in claimed:
            if message.id in self._probes:
                self._ready.setdefault(target, deque()).appendleft(message)
            else:
                self._ready.setdefault(target, deque()).append(message)
        return started + self._start_held(self.config.concurrency - len(self._running))

    def _start_held(self, capacity: int) -> int:
        """Start up to ``capacity`` held messages, oldest claimed first, as their breakers allow."""
        started = 0
        for target, held in self._ready.items():
            breaker = self.breakers[target]
            while held and started < capacity and (held[0].id in self._probes or breaker.allowance() != 0):
                message = held.popleft()
                if self._circuits is None:
                    breaker.probe_started()
                self._running[message.id] = asyncio.create_task(self._attempt(message))
                started += 1
        return started

    def _held(self) -> list[int]:
        """The ids of the messages claimed ahead and not started."""
        return [message.id for held in self._ready.values() for message in held]

    def _claim(self, plan: list[tuple[list[str], int, str]]
               ) -> tuple[list[tuple[Message, str]], dict[str, CircuitSnapshot] | None]:
        """Claim by ``plan``; with shared circuits, first read them and claim as they (not this process's
        cached breakers) allow, taking the probe of a half-open one. Returns the circuits read."""
        out: list[tuple[Message, str]] = []
        circuits: dict[str, CircuitSnapshot] | None = None
        with self._sessions(write=bool(plan)) as session:
            if self._circuits is not None:
                circuits = self._circuits.read(session)
            for kinds, limit, target in plan:
                probe = False
                if circuits is not None and target in circuits:
                    allowance = self._scratch(target, circuits[target]).allowance()
                    if allowance == 0:
                        continue
                    if allowance == 1:
                        assert self._circuits is not None
                        taken = self._circuits.take_probe(session, target, self.owner, self.config.attempt_timeout_s)
                        if taken is None:
                            continue  # another process probes
                        circuits[target], limit, probe = taken, 1, True
                got = store.claim(session, owner=self.owner, kinds=kinds, limit=limit, lease_s=self.config.lease_s)
                for message in got:
                    out.append((message, target))
                    if probe:
                        self._probes.add(message.id)
                if probe and not got:  # nothing due: the probe is not ours to hold for its lease
                    assert self._circuits is not None and circuits is not None
                    self._circuits.release_probe(session, target, self.owner)
                    circuits[target] = replace(circuits[target], probe_owner=None, probe_until=0.0)
            for kind, hook in self._claim_hooks.items():
                if of_kind := [message for message, _target in out if message.kind == kind]:
                    hook(session, of_kind)
        return out, circuits

    def _sync_due(self) -> bool:
        """With shared circuits: whether to read them although nothing is to be claimed (every poll, so that a
        process whose breakers hold it back, or that holds messages claimed ahead, learns what the others saw)."""
        return self._circuits is not None and time.monotonic() - self._synced_at >= self.config.poll_s

    def _scratch(self, target: str, snapshot: CircuitSnapshot) -> CircuitBreaker:
        """A breaker configured as ``target``'s, in state ``snapshot`` (the cached one is left alone)."""
        mine = self.breakers[target]
        scratch = CircuitBreaker(threshold=mine.threshold, cool_down_s=mine.base_cool_down_s,
                                 max_cool_down_s=mine.max_cool_down_s, clock=mine.clock)
        scratch.restore(snapshot)
        return scratch

    def _adopt(self, circuits: dict[str, CircuitSnapshot] | None) -> None:
        """Take the shared circuits just read as this process's breakers (an absent row: closed, clean)."""
        if circuits is None:
            return
        self._synced_at = time.monotonic()
        for target, breaker in self.breakers.items():
            breaker.restore(circuits.get(target, CircuitSnapshot(cool_down_s=breaker.base_cool_down_s)))

    async def _share(self, target: str, verdict: Verdict | None, retry_after: float | None) -> None:
        """Write an attempt's verdict on ``target`` to the shared circuit (nothing when not shared, or when
        there is nothing to say); a failure to write only delays what the other processes learn."""
        if self._circuits is None or (verdict is None and not retry_after):
            return
        try:
            snapshot = await asyncio.to_thread(self._record_verdict, target, verdict or Verdict.NEUTRAL,
                                               retry_after)
        except Exception:
            log.warning("circuit_not_shared", target=target, verdict=verdict, exc_info=True)
            return
        self.breakers[target].restore(snapshot)

    def _record_verdict(self, target: str, verdict: Verdict, retry_after: float | None) -> CircuitSnapshot:
        assert self._circuits is not None
        with self._sessions(write=True) as session:
            return self._circuits.record(session, self.breakers[target], target, verdict, owner=self.owner,
                                         retry_after=retry_after)

    async def _attempt(self, message: Message) -> None:
        handler = self._handlers[message.kind]
        breaker = self.breakers[handler.target]
        started = time.monotonic()
        started_at = utcnow()
        bound = log.bind(message_id=message.id, kind=message.kind, key=message.key, attempt=message.attempts)
        outcome = "lost"
        error: DeliveryError | None = None
        crash: Exception | None = None
        probe = message.id in self._probes
        try:
            try:
                async with asyncio.timeout(self.config.attempt_timeout_s):  # no extra task, unlike wait_for
                    finish = await handler.handle(message)
            except PermanentError as exc:
                dirty = not breaker.clean
                breaker.record_success()  # the peer answered, and clearly
                await self._share(handler.target, Verdict.SUCCESS if dirty or probe else None, None)
                error = exc
                outcome = await asyncio.to_thread(self._bury, handler, message, exc, started_at)
            except TransientError as exc:
                if exc.trips_breaker:
                    breaker.record_failure()
                else:
                    breaker.record_neutral(self.owner)
                # A rate limit's Retry-After holds the whole target back; a failure's is its message's floor.
                hold = exc.retry_after if not exc.trips_breaker else None
                if hold:
                    breaker.hold(hold)
                await self._share(handler.target,
                                  Verdict.FAILURE if exc.trips_breaker else Verdict.NEUTRAL if probe else None,
                                  hold)
                error = exc
                outcome = await asyncio.to_thread(self._retry_or_bury, handler, message, exc, started_at)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                breaker.record_neutral(self.owner)
                await self._share(handler.target, Verdict.NEUTRAL if probe else None, None)
                crash = exc
                error = TransientError(f"{exc.__class__.__name__}: {exc}", trips_breaker=False,
                                       detail={"exception": exc.__class__.__name__})
                outcome = await asyncio.to_thread(self._retry_or_bury, handler, message, error, started_at)
            else:
                dirty = not breaker.clean
                breaker.record_success()
                await self._share(handler.target, Verdict.SUCCESS if dirty or probe else None, None)
                outcome = await self._complete_soon(message, finish, started_at)
            _log_attempt(bound, outcome, time.monotonic() - started, error, crash)
        except Exception:
            # Recording the outcome failed (the database is away): the lease expires, the message is retried.
            outcome = "lost"
            bound.exception("delivery_outcome_not_recorded", outcome=outcome,
                            duration_ms=round((time.monotonic() - started) * 1000, 1))
        finally:
            self._running.pop(message.id, None)
            self._probes.discard(message.id)
            self._wake.set()
            if self._observer is not None:
                self._observer(message, outcome, time.monotonic() - started)

    def _record(self, session: Session, message: Message, started_at: datetime, outcome: str,
                error: DeliveryError | None = None) -> None:
        duration_ms = int((utcnow() - started_at).total_seconds() * 1000)
        cause = error.__cause__ if error is not None and error.__cause__ is not None else error
        store.record_attempt(session, message, owner=self.owner, started_at=started_at, duration_ms=duration_ms,
                             outcome=outcome, error_class=cause.__class__.__name__ if cause else None,
                             error=error.message if error else None, detail=_detail(error) if error else None)

    async def _complete_soon(self, message: Message, finish: Finish | None, started_at: datetime) -> str:
        """Mark ``message`` done (with its finish step and attempt log) in the next completing transaction.

        Group commit: the successes that come in while one completing transaction runs share the next one,
        so under load one transaction (and one fsync) serves many messages; alone, a message waits for none.
        """
        done = _Done(message, finish, started_at, asyncio.get_running_loop().create_future())
        self._done.append(done)
        if self._completer is None:
            self._completer = asyncio.create_task(self._complete_pending())
        return await done.outcome

    async def _complete_pending(self) -> None:
        try:
            while self._done:
                batch, self._done = self._done, []
                try:
                    results = await asyncio.to_thread(self._complete_batch, batch)
                except asyncio.CancelledError:
                    for done in batch + self._done:
                        done.outcome.cancel()
                    raise
                except Exception as exc:
                    results = [exc] * len(batch)
                for done, result in zip(batch, results, strict=True):
                    if done.outcome.done():
                        continue  # its attempt was cancelled meanwhile (shutdown)
                    if isinstance(result, BaseException):
                        done.outcome.set_exception(result)
                    else:
                        done.outcome.set_result(result)
        finally:
            self._completer = None

    def _complete_batch(self, batch: list[_Done]) -> list[str | BaseException]:
        """Complete ``batch`` in one transaction; if that fails, one by one, so that one message's failing
        finish step costs the others nothing (each ends as it would have alone)."""
        if len(batch) > 1:
            try:
                return self._complete_together(batch)
            except Exception:
                log.warning("batch_completion_failed", size=len(batch), exc_info=True,
                            detail="completing the messages one by one")
        results: list[str | BaseException] = []
        for done in batch:
            try:
                results.append(self._complete(done.message, done.finish, done.started_at))
            except Exception as exc:
                results.append(exc)
        return results

    def _complete_together(self, batch: list[_Done]) -> list[str | BaseException]:
        with self._sessions(write=True) as session:
            kept = store.complete_many(session, [done.message.id for done in batch], self.owner)
            now = utcnow()
            attempts: list[store.Attempt] = []
            for done in batch:
                if done.message.id not in kept:
                    continue  # taken over by another worker: its outcome stands
                if done.finish is not None:
                    done.finish(session)
                attempts.append(store.Attempt(done.message, self.owner, done.started_at,
                                              int((now - done.started_at).total_seconds() * 1000), "done"))
            store.record_attempts(session, attempts)
        return ["done" if done.message.id in kept else "lost" for done in batch]

    def _complete(self, message: Message, finish: Finish | None, started_at: datetime) -> str:
        with self._sessions(write=True) as session:
            if not store.complete(session, message.id, self.owner):
                session.rollback()
                return "lost"
            if finish is not None:
                finish(session)
            self._record(session, message, started_at, "done")
        return "done"

    def _retry_or_bury(self, handler: Handler, message: Message, error: TransientError, started_at: datetime) -> str:
        policy: RetryPolicy = getattr(handler, "policy", None) or self.policy
        at = policy.next_attempt(attempts=message.attempts, created_at=message.age_from, now=utcnow(),
                                      retry_after=error.retry_after)
        if at is None:
            return self._bury(handler, message, error, started_at)
        with self._sessions(write=True) as session:
            if not store.reschedule(session, message.id, self.owner, at=at, error=error.message,
                                    detail=_detail(error)):
                session.rollback()
                return "lost"
            handler.on_retry(session, message, error)
            self._record(session, message, started_at, "retry", error)
        return "retry"

    def _bury(self, handler: Handler, message: Message, error: DeliveryError, started_at: datetime) -> str:
        with self._sessions(write=True) as session:
            if not store.bury(session, message.id, self.owner, error=error.message, detail=_detail(error)):
                session.rollback()
                return "lost"
            handler.on_dead(session, message, error)
            if self._on_dead is not None:
                self._on_dead(session, message, error)
            self._record(session, message, started_at, "dead", error)
        return "dead"

    async def _heartbeat(self) -> None:
        interval = max(0.5, self.config.lease_s / 3)
        while True:
            await asyncio.sleep(interval)
            ids = [*self._running, *self._held()]
            if not ids:
                continue
            try:
                kept = await asyncio.to_thread(self._renew, ids)
            except Exception:
                log.exception("lease_renewal_failed")
                continue
            lost = set(ids) - kept
            for message_id in lost:
                if message_id in self._running:
                    log.warning("lease_lost", message_id=message_id)
            if lost:
                # Held ones are not started at all: another worker has them now.
                for target, held in self._ready.items():
                    self._ready[target] = deque(m for m in held if m.id not in lost)

    def _renew(self, ids: list[int]) -> set[int]:
        with self._sessions(write=True) as session:
            return store.renew(session, ids, self.owner, self.config.lease_s)

    async def _shutdown(self) -> None:
        held = self._held()
        self._ready.clear()
        pending: set[asyncio.Task[None]] = set()
        if self._running:
            _done, pending = await asyncio.wait(list(self._running.values()), timeout=self.config.stop_grace_s)
        ids = held + [mid for mid, task in self._running.items() if task in pending]
        if not ids:
            return
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._completer is not None:  # a completion under way settles before anything is handed back
            await asyncio.gather(self._completer, return_exceptions=True)
        try:
            released = await asyncio.to_thread(self._release, ids)
            log.info("dispatcher_released", count=released)
        except Exception:
            log.exception("release_failed", detail="the leases will expire and the messages be retried")

    def _release(self, ids: list[int]) -> int:
        with self._sessions(write=True) as session:
            return store.release(session, ids, self.owner)


@dataclass
class _Done:
    """A successful attempt waiting for its completing transaction; ``outcome`` is ``done`` or ``lost``."""

    message: Message
    finish: Finish | None
    started_at: datetime
    outcome: asyncio.Future[str]


def _log_attempt(bound: Any, outcome: str, duration_s: float, error: DeliveryError | None,
                 crash: Exception | None) -> None:
    """The one log line of an attempt: ``delivery_<outcome>`` with the message's ids (bound) and the outcome."""
    fields: dict[str, Any] = {"outcome": outcome, "duration_ms": round(duration_s * 1000, 1)}
    if error is not None:
        cause = crash or error.__cause__ or error
        fields["error_class"] = cause.__class__.__name__
        fields["error"] = error.message
        if isinstance(error, TransientError) and error.retry_after:
            fields["retry_after"] = error.retry_after
        if outcome == "dead" and error.detail:
            fields["detail"] = error.detail
    if outcome == "lost":
        fields["note"] = "another worker took the message over; its outcome stands"
    if crash is not None:
        fields["exc_info"] = crash  # a bug on our side: the traceback goes with the attempt's line
    quiet = outcome in ("done", "retry") and crash is None
    (bound.info if quiet else bound.warning)(f"delivery_{outcome}", **fields)


def _detail(error: DeliveryError) -> dict[str, Any] | None:
    detail = dict(error.detail or {})
    if isinstance(error, TransientError) and error.retry_after:
        detail["retry_after"] = error.retry_after
    return detail or None
