"""The sandbox's in-memory state: files, dossiers (pending reception and lookup) and the change feed.

One re-entrant lock guards everything, so a check and the write it allows happen together (two
concurrent creations of the same ``maHoSoTinh`` get one 201 and one 409, a file cannot be claimed
by two dossiers). Handlers run on one event loop; the lock also makes it safe for a test thread to
look at the state directly.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.ministry.sandbox import codes
from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.errors import FieldError, SandboxError, invalid, wrong_state

Queue = Literal["cho-tiep-nhan", "tra-cuu"]

# How often (monotonic seconds) expired unreferenced files are swept out.
_PURGE_INTERVAL = 60.0


def new_id(prefix: str) -> str:
    """A fresh identifier such as ``HS-3F2A9C0B17D4``: unguessable, never reused after a reset."""
    return f"{prefix}-{secrets.token_hex(6).upper()}"


@dataclass
class StoredFile:
    """An uploaded file (``POST /api/v1/tep-tin``)."""

    id: str
    owner: str  # client_id that uploaded it
    component_code: str
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: str
    created_mono: float
    data: bytes | None  # None when the sandbox keeps only the digest (benchmarks)
    used_by: str | None = None  # id of the dossier that references it

    def answer(self) -> dict[str, Any]:
        """The 201 body of the upload (§4)."""
        return {
            "id": self.id,
            "sha256": self.sha256,
            "kichThuoc": self.size,
            "tenTep": self.name,
            "loaiTep": self.content_type,
        }

    def summary(self) -> dict[str, Any]:
        """The upload answer plus what the sandbox's own pages show."""
        return {**self.answer(), "maThanhPhan": self.component_code, "ngayTao": self.created_at,
                "hoSo": self.used_by}


@dataclass
class Dossier:
    """A dossier as stored: the submitted body, its components, its status and history."""

    id: str
    owner: str
    queue: Queue
    code: str  # maHoSoTinh
    body: dict[str, Any]  # the submitted fields except thanhPhanHoSo
    components: list[dict[str, Any]]
    created_at: str
    updated_at: str
    status: str | None  # None in the lookup list: no workflow there
    history: list[dict[str, Any]] = field(default_factory=list)
    supplements: list[dict[str, Any]] = field(default_factory=list)  # each bo-sung: when, note, components

    def view(self) -> dict[str, Any]:
        """The dossier as ``GET /api/v1/ho-so/{id}`` shows it."""
        out: dict[str, Any] = {"id": self.id, "maHoSoTinh": self.code}
        if self.status is not None:
            out["trangThai"] = self.status
        out["ngayTao"] = self.created_at
        out["ngayCapNhat"] = self.updated_at
        out.update(copy.deepcopy(self.body))
        out["maHoSoTinh"] = self.code
        out["thanhPhanHoSo"] = copy.deepcopy(self.components)
        if self.history:
            last = self.history[-1]
            for extra in ("canBo", "lyDo", "quyetDinh", "doiTuongId", "thangChiTraDauTien"):
                if extra in last:
                    out[extra] = copy.deepcopy(last[extra])
        out["lichSu"] = copy.deepcopy(self.history)
        if self.supplements:
            out["boSung"] = copy.deepcopy(self.supplements)
        return out

    def created_answer(self) -> dict[str, Any]:
        """The 201 body of a creation (§5)."""
        out: dict[str, Any] = {"id": self.id, "maHoSoTinh": self.code}
        if self.status is not None:
            out["trangThai"] = self.status
        out["ngayTao"] = self.created_at
        return out


@dataclass(frozen=True)
class ChangePage:
    """A page of one client's change feed: entries, the cursor after them, whether more follow."""

    entries: list[dict[str, Any]]
    cursor: str
    more: bool


class SandboxStore:
    """Files, dossiers and the change feed of every client."""

    def __init__(self, *, clock: Clock, file_retention_seconds: float, keep_file_bytes: bool) -> None:
        self._clock = clock
        self._retention = file_retention_seconds
        self._keep_bytes = keep_file_bytes
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything; cursors issued before no longer parse (their epoch is gone)."""
        with self.lock:
            self._files: dict[str, StoredFile] = {}
            self._dossiers: dict[str, Dossier] = {}
            self._by_code: dict[tuple[Queue, str], str] = {}
            self._seq = 0
            # Per client: parallel lists of sequence numbers and change entries, in order.
            self._feed_seqs: dict[str, list[int]] = {}
            self._feed_entries: dict[str, list[dict[str, Any]]] = {}
            self._epoch = secrets.token_hex(4)
            self._last_purge = self._clock.monotonic()

    # ---- files -----------------------------------------------------------------------------

    def add_file(
        self, *, owner: str, component_code: str, name: str, content_type: str, data: bytes, sha256: str
    ) -> StoredFile:
        """Store an upload that passed every check; returns it with its new id."""
        with self.lock:
            self._purge_files()
            stored = StoredFile(
                id=new_id("TT"),
                owner=owner,
                component_code=component_code,
                name=name,
                content_type=content_type,
                size=len(data),
                sha256=sha256,
                created_at=self._clock.iso_now(),
                created_mono=self._clock.monotonic(),
                data=data if self._keep_bytes else None,
            )
            self._files[stored.id] = stored
            return stored

    def file(self, file_id: str) -> StoredFile | None:
        """A stored file by id, or None (unknown, or unreferenced past its retention)."""
        with self.lock:
            stored = self._files.get(file_id)
            if stored is not None and self._expired(stored):
                del self._files[file_id]
                return None
            return stored

    def files(self) -> list[StoredFile]:
        """Every live stored file, oldest first."""
        with self.lock:
            return [f for f in self._files.values() if not self._expired(f)]

    def _expired(self, stored: StoredFile) -> bool:
        return stored.used_by is None and self._clock.monotonic() - stored.created_mono > self._retention

    def _purge_files(self) -> None:
        now = self._clock.monotonic()
        if now - self._last_purge < _PURGE_INTERVAL:
            return
        self._last_purge = now
        for file_id in [f.id for f in self._files.values() if self._expired(f)]:
            del self._files[file_id]

    def _claim_files(
        self, owner: str, components: list[dict[str, Any]], base: str, dossier_id: str | None = None
    ) -> list[str]:
        """Check every referenced file (§5 rule); returns the ids to mark used, or raises 400.

        A file already in ``dossier_id`` (a supplement repeating one) is not "used by another dossier".
        """
        errors: list[FieldError] = []
        seen: set[str] = set()
        ids: list[str] = []
        for i, comp in enumerate(components):
            for j, file_id in enumerate(comp["tepTinIds"]):
                path = f"{base}[{i}].tepTinIds[{j}]"
                stored = self.file(file_id)
                if stored is None or stored.owner != owner:
                    # Another client's file is reported as unknown: its existence is not ours to learn.
                    errors.append(FieldError(path, f"Tệp {file_id} không tồn tại hoặc đã hết hạn"))
                elif stored.used_by is not None and stored.used_by != dossier_id:
                    errors.append(FieldError(path, f"Tệp {file_id} đã được dùng cho hồ sơ khác"))
                elif file_id in seen:
                    errors.append(FieldError(path, f"Tệp {file_id} được khai nhiều lần"))
                elif stored.component_code != comp["maThanhPhan"]:
                    errors.append(
                        FieldError(
                            path,
                            f"Tệp {file_id} được tải lên cho thành phần {stored.component_code}, "
                            f"không phải {comp['maThanhPhan']}",
                        )
                    )
                seen.add(file_id)
                ids.append(file_id)
        if errors:
            raise invalid(errors)
        return ids

    # ---- dossiers --------------------------------------------------------------------------

    def create_dossier(self, *, owner: str, body: dict[str, Any], queue: Queue) -> Dossier:
        """Create a validated dossier in ``queue``.

        Raises 409 HO_SO_DA_TON_TAI (with the existing ``id``) when the queue holds that
        ``maHoSoTinh`` already, whoever sent it, and 400 when a referenced file is not this
        client's unused upload. The duplicate check comes first: a repeat of a delivered dossier
        references files that dossier now uses, and must still learn where it is.
        """
        code = body["maHoSoTinh"]
        with self.lock:
            existing = self._by_code.get((queue, code))
            if existing is not None:
                raise SandboxError(
                    409,
                    "HO_SO_DA_TON_TAI",
                    [FieldError("maHoSoTinh", f"Hồ sơ {code} đã tồn tại")],
                    extra={"id": existing},
                )
            components = copy.deepcopy(body["thanhPhanHoSo"])
            file_ids = self._claim_files(owner, components, "thanhPhanHoSo")
            now = self._clock.iso_now()
            rest = {k: copy.deepcopy(v) for k, v in body.items() if k != "thanhPhanHoSo"}
            if queue == "cho-tiep-nhan":
                dossier = Dossier(new_id("HS"), owner, queue, code, rest, components, now, now, codes.CHO_TIEP_NHAN)
                self._record_change(dossier, codes.CHO_TIEP_NHAN, {}, now)
            else:
                dossier = Dossier(new_id("TC"), owner, queue, code, rest, components, now, now, None)
            for file_id in file_ids:
                self._files[file_id].used_by = dossier.id
            self._dossiers[dossier.id] = dossier
            self._by_code[(queue, code)] = dossier.id
            return dossier

    def dossier(self, dossier_id: str, *, owner: str | None = None) -> Dossier | None:
        """A pending-reception dossier by id (only ``owner``'s when given); lookup ones are not here."""
        with self.lock:
            found = self._dossiers.get(dossier_id)
            if found is None or found.queue != "cho-tiep-nhan":
                return None
            if owner is not None and found.owner != owner:
                return None
            return found

    def supplement(self, *, owner: str, dossier_id: str, components: list[dict[str, Any]],
                   note: str | None) -> Dossier:
        """``bo-sung``: add components to a dossier in YEU_CAU_BO_SUNG and move it back to DA_TIEP_NHAN."""
        with self.lock:
            dossier = self.dossier(dossier_id, owner=owner)
            if dossier is None:
                raise SandboxError(404, "KHONG_TIM_THAY", [FieldError("id", f"Không tìm thấy hồ sơ {dossier_id}")])
            if dossier.status != codes.YEU_CAU_BO_SUNG:
                raise wrong_state(str(dossier.status), codes.YEU_CAU_BO_SUNG)
            added = copy.deepcopy(components)
            file_ids = self._claim_files(owner, added, "thanhPhanHoSo", dossier.id)
            for file_id in file_ids:
                self._files[file_id].used_by = dossier.id
            dossier.components.extend(added)
            self._transition(dossier, codes.DA_TIEP_NHAN, {"canBo": self._last_officer(dossier)})
            dossier.supplements.append(
                {"thoiDiem": dossier.updated_at, "ghiChu": note, "thanhPhanHoSo": copy.deepcopy(added)}
            )
            return dossier

    def officer_action(self, dossier_id: str, status: str, extras: dict[str, Any],
                       then: Callable[[Dossier], dict[str, Any]] | None = None) -> Dossier:
        """The officer moves a dossier to ``status`` (with the §6 extra field); 409 if not allowed.

        ``then`` runs once the move is allowed, before it is recorded (under the lock): what it returns is added
        to the change's extra fields (an approval's ``doiTuongId``), and what it raises refuses the move.
        """
        with self.lock:
            dossier = self.dossier(dossier_id)
            if dossier is None:
                raise SandboxError(404, "KHONG_TIM_THAY", [FieldError("id", f"Không tìm thấy hồ sơ {dossier_id}")])
            current = str(dossier.status)
            allowed = codes.OFFICER_TRANSITIONS.get(current, frozenset())
            if status not in allowed:
                wanted = ", ".join(sorted(allowed)) or "không có bước tiếp theo"
                raise SandboxError(
                    409,
                    "TRANG_THAI_KHONG_PHU_HOP",
                    [FieldError("trangThai", f"Không thể chuyển từ {current} sang {status} (được phép: {wanted})")],
                )
            if then is not None:
                extras = {**extras, **then(dossier)}
            self._transition(dossier, status, extras)
            return dossier

    def officer_action_all(self, status: str, extras: dict[str, Any], *, limit: int | None = None) -> int:
        """The same officer action on every dossier waiting in pending reception (oldest first, at most
        ``limit``): a load run's officers. Returns how many moved; dossiers the action does not fit are left."""
        allowed = codes.OFFICER_TRANSITIONS[codes.CHO_TIEP_NHAN]
        if status not in allowed:
            raise SandboxError(409, "TRANG_THAI_KHONG_PHU_HOP", [FieldError(
                "trangThai", f"Không thể chuyển từ {codes.CHO_TIEP_NHAN} sang {status} "
                             f"(được phép: {', '.join(sorted(allowed))})")])
        moved = 0
        with self.lock:
            for dossier in self._dossiers.values():
                if limit is not None and moved >= limit:
                    break
                if dossier.queue != "cho-tiep-nhan" or dossier.status != codes.CHO_TIEP_NHAN:
                    continue
                self._transition(dossier, status, copy.deepcopy(extras))
                moved += 1
        return moved

    def summary(self) -> dict[str, Any]:
        """Counts only (cheap with 100,000s of dossiers): dossiers per queue and status, files, feed length."""
        with self.lock:
            by_queue: dict[str, dict[str, int]] = {}
            for dossier in self._dossiers.values():
                statuses = by_queue.setdefault(dossier.queue, {})
                key = dossier.status or "-"
                statuses[key] = statuses.get(key, 0) + 1
            return {"hoSo": by_queue, "soHoSo": len(self._dossiers), "soTepTin": len(self._files),
                    "soThayDoi": self._seq}

    def seed_dossiers(self, *, owner: str, codes_: list[str], body: dict[str, Any]) -> tuple[list[Dossier], str]:
        """Put dossiers straight into pending reception (no validation, no files), each with its
        CHO_TIEP_NHAN change in the feed: a benchmark's 100,000 delivered dossiers in a second.

        Returns them and the feed cursor after their changes. 409 HO_SO_DA_TON_TAI when a code is taken.
        """
        with self.lock:
            taken = [code for code in codes_ if ("cho-tiep-nhan", code) in self._by_code]
            if taken or len(set(codes_)) != len(codes_):
                raise SandboxError(409, "HO_SO_DA_TON_TAI", [FieldError("maHoSoTinh", "Mã hồ sơ đã tồn tại")])
            created: list[Dossier] = []
            for code in codes_:
                now = self._clock.iso_now()
                dossier = Dossier(new_id("HS"), owner, "cho-tiep-nhan", code, copy.deepcopy(body), [], now, now,
                                  codes.CHO_TIEP_NHAN)
                self._record_change(dossier, codes.CHO_TIEP_NHAN, {}, now)
                self._dossiers[dossier.id] = dossier
                self._by_code[("cho-tiep-nhan", code)] = dossier.id
                created.append(dossier)
            return created, self.encode_cursor(self._seq)

    def _transition(self, dossier: Dossier, status: str, extras: dict[str, Any]) -> None:
        now = self._clock.iso_now()
        dossier.status = status
        dossier.updated_at = now
        self._record_change(dossier, status, extras, now)

    @staticmethod
    def _last_officer(dossier: Dossier) -> str:
        for entry in reversed(dossier.history):
            if "canBo" in entry:
                return str(entry["canBo"])
        return codes.DEFAULT_OFFICER

    def dossiers(self, *, queue: Queue, statuses: Iterable[str] | None = None) -> list[Dossier]:
        """Dossiers of a queue in creation order, optionally only those in ``statuses``."""
        wanted = None if statuses is None else set(statuses)
        with self.lock:
            return [
                d for d in self._dossiers.values()
                if d.queue == queue and (wanted is None or d.status in wanted)
            ]

    def files_of(self, dossier: Dossier) -> dict[str, StoredFile]:
        """The stored files a dossier references, by id."""
        with self.lock:
            out: dict[str, StoredFile] = {}
            for comp in dossier.components:
                for file_id in comp["tepTinIds"]:
                    if (stored := self._files.get(file_id)) is not None:
                        out[file_id] = stored
            return out

    # ---- change feed -----------------------------------------------------------------------

    def _record_change(self, dossier: Dossier, status: str, extras: dict[str, Any], when: str) -> None:
        self._seq += 1
        history_entry = {"trangThai": status, "thoiDiem": when, **copy.deepcopy(extras)}
        dossier.history.append(history_entry)
        entry = {"id": dossier.id, "maHoSoTinh": dossier.code, **copy.deepcopy(history_entry)}
        self._feed_seqs.setdefault(dossier.owner, []).append(self._seq)
        self._feed_entries.setdefault(dossier.owner, []).append(entry)

    def encode_cursor(self, seq: int) -> str:
        """The opaque ``conTro`` for "after change ``seq``"."""
        raw = f"{self._epoch}:{seq}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode_cursor(self, cursor: str) -> int | None:
        """The change number a cursor stands for, or None if this sandbox never issued it."""
        if not cursor or len(cursor) > 100 or not cursor.isascii():
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (binascii.Error, ValueError):
            return None
        epoch, _, number = raw.partition(":")
        if epoch != self._epoch or not number.isdigit() or number != str(int(number)):
            return None
        seq = int(number)
        return seq if seq <= self._seq else None

    def changes(self, *, owner: str, after: int, limit: int, lag_one: bool = False) -> ChangePage:
        """Up to ``limit`` of ``owner``'s changes after change number ``after``, oldest first.

        ``lag_one`` (a fault) returns, for a page of two or more, a cursor one entry short, so the
        last entry comes again on the next page; single-entry pages never lag, so the feed always
        moves on, even at a redelivery rate of 1.
        """
        with self.lock:
            seqs = self._feed_seqs.get(owner, [])
            entries = self._feed_entries.get(owner, [])
            start = bisect.bisect_right(seqs, after)
            stop = min(start + limit, len(seqs))
            page = [copy.deepcopy(e) for e in entries[start:stop]]
            if stop == start:
                last = after  # nothing new: the cursor stands still and stays valid
            elif lag_one and stop - start >= 2:
                last = seqs[stop - 2]
            else:
                last = seqs[stop - 1]
            more = bisect.bisect_right(seqs, last) < len(seqs)
            return ChangePage(page, self.encode_cursor(last), more)
