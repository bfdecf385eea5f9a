"""The people the ministry pays (contract §8): their records, the default seed, the stop of an allowance and the
back-payments (§9).

``thoi-huong`` (§8) and ``truy-linh`` (§9) are judged against the sandbox's own record: the recovery (``truyThu``)
the ministry expects is computed with ``mappings.money.span`` over the record's group and birth date, from the stop
month to the last month a payment list carried the person, and every month the body disagrees on is named in a 422
SAI_SO_TIEN.
A back-payment's months are computed the same way, from ``thangBatDauHuong`` to the month before the sandbox's
current payment list (see :meth:`Beneficiary.list_month`).

The records are sandbox data (fictional people): the sandbox's pages show them whole; its request log does not.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from adapters.ministry.sandbox import codes
from adapters.ministry.sandbox.errors import FieldError, SandboxError, invalid, not_found
from adapters.ministry.sandbox.store import new_id
from adapters.ministry.sandbox.validation import MAX_NAME, MAX_NOTE, Checker, communes
from mappings import money

DANG_HUONG = "DANG_HUONG"
TAM_DUNG = "TAM_DUNG"
DA_THOI_HUONG = "DA_THOI_HUONG"
ALLOWANCE_STATUSES = (DANG_HUONG, TAM_DUNG, DA_THOI_HUONG)

CHET = "CHET"
KHONG_DU_DIEU_KIEN = "KHONG_DU_DIEU_KIEN"
STOP_REASONS = (CHET, KHONG_DU_DIEU_KIEN)

# The record as §8 answers it, in this order; the seed also takes ``id`` and ``thangThoiHuong``.
RECORD_FIELDS = ("id", "soDinhDanh", "hoTen", "ngaySinh", "gioiTinh", "nhomDoiTuong", "maXa", "trangThaiHuong",
                 "mucHuongThang", "thangBatDauHuong", "daChiTraDenThang", "hoSoId")
SEED_FIELDS = (*RECORD_FIELDS, "thangThoiHuong")
STOP_FIELDS = ("lyDo", "ngaySuKien", "thangThoiHuong", "truyThu", "canCu", "ghiChu")
RECOVERY_FIELDS = ("soTien", "chiTiet")
RECOVERY_MONTH_FIELDS = ("thang", "soTien")
BASIS_FIELDS = ("loai", "so", "ngay")
BACK_PAYMENT_FIELDS = ("doiTuongId", "hoSoId", "tuThang", "denThang", "soTien", "chiTiet", "canCu")
BACK_PAYMENT_BASIS_FIELDS = ("soQuyetDinh", "ngayQuyetDinh")

WRONG_AMOUNT = "SAI_SO_TIEN"
MAX_RECOVERY_MONTHS = 600

_PERSONAL_ID = re.compile(r"[0-9]{12}")
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_BIRTH = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
_RECORD_ID = re.compile(r"DT-[0-9A-Z]{1,40}")
_DOSSIER_ID = re.compile(r"HS-[0-9A-Z]{1,40}")
_BASIS_KIND = re.compile(r"[A-Z][A-Z0-9_]{0,63}")

MONTH_FORMAT = "Tháng phải có dạng YYYY-MM"


@dataclass(frozen=True, slots=True)
class Beneficiary:
    """One person the ministry pays, in the contract's names; ``thangThoiHuong`` is set once stopped."""

    id: str
    soDinhDanh: str
    hoTen: str
    ngaySinh: str  # YYYY-MM-DD, or YYYY-MM / YYYY
    gioiTinh: str
    nhomDoiTuong: str
    maXa: str
    trangThaiHuong: str
    mucHuongThang: int
    thangBatDauHuong: str
    daChiTraDenThang: str | None
    hoSoId: str
    thangThoiHuong: str | None = None  # not in the §8 answer: the stop month of a DA_THOI_HUONG record
    note: str | None = field(default=None, compare=False)  # why this person is in the seed

    def answer(self) -> dict[str, Any]:
        """The record as ``GET /api/v1/doi-tuong`` answers it (§8), exactly those fields."""
        return {name: getattr(self, name) for name in RECORD_FIELDS}

    def as_json(self) -> dict[str, Any]:
        """The answer plus the stop month (the sandbox's own pages)."""
        return {**self.answer(), "thangThoiHuong": self.thangThoiHuong}

    def expected_recovery(self, stop_month: str) -> money.Span | None:
        """What the ministry's payment record says was paid from ``stop_month`` on (None: nothing).

        Every month from ``stop_month`` (or the first month paid, if later) to ``daChiTraDenThang``, each at
        ``mappings.money``'s amount for the record's group and birth date.
        """
        if self.daChiTraDenThang is None:
            return None
        first = max(stop_month, self.thangBatDauHuong)  # YYYY-MM strings order as months do
        if first > self.daChiTraDenThang:
            return None
        return money.span(self.nhomDoiTuong, self.ngaySinh, first, self.daChiTraDenThang, children=self._children())

    def list_month(self, today: date) -> str:
        """The sandbox's current payment list for this person (``thangChiTra`` of §9): the month after
        ``daChiTraDenThang``, or ``today``'s month when never paid."""
        if self.daChiTraDenThang is None:
            return money.month_code(today)
        return money.month_after(date.fromisoformat(f"{self.daChiTraDenThang}-01"))

    def owed_back(self, today: date) -> money.Span:
        """The months a back-payment may cover (§9): ``thangBatDauHuong`` to the month before
        :meth:`list_month`, each at ``mappings.money``'s amount; empty when the list carries the first month."""
        last = _month_before(self.list_month(today))
        return money.span(self.nhomDoiTuong, self.ngaySinh, self.thangBatDauHuong, last,
                          children=self._children(self.thangBatDauHuong))

    def _children(self, month: str | None = None) -> int | None:
        """For a per-child group (§10), the number of children ``mucHuongThang`` pays in ``month`` (default:
        the last month paid, else the start month)."""
        month = month or self.daChiTraDenThang or self.thangBatDauHuong
        try:
            money.monthly_amount(self.nhomDoiTuong, self.ngaySinh, month)
        except ValueError as exc:
            if str(exc) != "children_required":
                raise
            return money.children_from_decision(self.nhomDoiTuong, self.ngaySinh, month, self.mucHuongThang)
        return None


DEFAULT_BENEFICIARIES: tuple[Beneficiary, ...] = (
    Beneficiary("DT-5EED00000001", "038141001234", "Nguyễn Thị Hoa", "1941-03-02", "NU", "NCT_80_KHONG_LUONG",
                "16171", DANG_HUONG, 500000, "2023-05", "2024-12", "HS-5EED00000001",
                note="paid through 2024-12: a death on 2024-09-28 recovers 2024-10..2024-12, 3 × 500,000"),
    Beneficiary("DT-5EED00000002", "038130005678", "Phạm Thị Lan", "1930", "NU", "NCT_80_KHONG_LUONG",
                "16171", DANG_HUONG, 500000, "2021-01", "2024-09", "HS-5EED00000002",
                note="paid through 2024-09: a death in September 2024 recovers nothing (truyThu null)"),
    Beneficiary("DT-5EED00000003", "038038002468", "Lê Văn Thành", "1938-07-15", "NAM", "NCT_80_KHONG_LUONG",
                "16171", DA_THOI_HUONG, 500000, "2019-01", "2024-09", "HS-5EED00000003", thangThoiHuong="2024-10",
                note="stopped from 2024-10: the same stop again is 200, another month 409"),
)
"""Who the sandbox pays at start (and after ``POST /_sandbox/reset``) unless configured otherwise."""


def default_beneficiaries() -> list[dict[str, Any]]:
    """The default seed in the contract's field names."""
    return [b.as_json() for b in DEFAULT_BENEFICIARIES]


@dataclass(frozen=True)
class Stop:
    """One stop the sandbox recorded (what its pages show)."""

    time: str
    client_id: str
    beneficiary_id: str
    body: dict[str, Any]
    answer: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"thoiDiem": self.time, "clientId": self.client_id, "doiTuongId": self.beneficiary_id,
                **copy.deepcopy(self.body), "ketQua": copy.deepcopy(self.answer)}


@dataclass(frozen=True)
class BackPayment:
    """One back-payment the sandbox recorded (§9)."""

    time: str
    client_id: str
    body: dict[str, Any]
    answer: dict[str, Any]

    @property
    def months(self) -> frozenset[str]:
        """The months it pays."""
        return frozenset(m["thang"] for m in self.body["chiTiet"])

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form: when, who, the body sent and the answer given."""
        return {"thoiDiem": self.time, "clientId": self.client_id, **copy.deepcopy(self.body),
                "ketQua": copy.deepcopy(self.answer)}


class BeneficiaryRegistry:
    """The records by id, the stops and back-payments made; one lock makes a check and the write it allows one
    step."""

    def __init__(self, seed: Iterable[Beneficiary]) -> None:
        self._seed = tuple(seed)
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """The start-up seed back, no stop recorded."""
        with self.lock:
            self._records: dict[str, Beneficiary] = {b.id: b for b in self._seed}
            self._stops: list[Stop] = []
            self._back_payments: list[BackPayment] = []

    def all(self) -> list[Beneficiary]:
        """Every record, in the order added."""
        with self.lock:
            return list(self._records.values())

    def get(self, beneficiary_id: str) -> Beneficiary | None:
        """A record by id."""
        with self.lock:
            return self._records.get(beneficiary_id)

    def find(self, personal_id: str) -> list[Beneficiary]:
        """The records of one ID number (a person may be paid in more than one record)."""
        with self.lock:
            return [b for b in self._records.values() if b.soDinhDanh == personal_id]

    def put(self, records: Iterable[Beneficiary]) -> None:
        """Add records, or replace those with the same id."""
        with self.lock:
            for record in records:
                self._records[record.id] = record

    def stops(self) -> list[Stop]:
        """The stops made, oldest first."""
        with self.lock:
            return list(self._stops)

    def back_payments(self) -> list[BackPayment]:
        """The back-payments made, oldest first."""
        with self.lock:
            return list(self._back_payments)

    def approve(self, record: Beneficiary) -> Beneficiary:
        """The record of an approval: replaces the one of the same person and group (keeping its id), else is
        added. Returns the record stored."""
        with self.lock:
            same = next((b for b in self._records.values()
                         if b.soDinhDanh == record.soDinhDanh and b.nhomDoiTuong == record.nhomDoiTuong), None)
            if same is not None:
                record = replace(record, id=same.id)
            self._records[record.id] = record
            return record

    def back_pay(self, body: dict[str, Any], *, client_id: str, now: str, today: date) -> dict[str, Any]:
        """``truy-linh`` with a body that passed :func:`validate_back_payment`: the 201 answer, or 404/400/409/422.

        404: unknown ``doiTuongId``; 400: ``hoSoId`` is not the record's; 409 TRANG_THAI_KHONG_PHU_HOP: a month
        sent is in a back-payment recorded already (our reading of "one back-payment per months"); 422 SAI_SO_TIEN:
        a month not owed back, or at another amount than ``mappings.money`` computes from the record.
        """
        with self.lock:
            record = self._records.get(body["doiTuongId"])
            if record is None:
                raise not_found("doiTuongId")
            if body["hoSoId"] != record.hoSoId:
                raise invalid([FieldError("hoSoId", f"Đối tượng {record.id} được hưởng theo hồ sơ {record.hoSoId}")])
            sent = {m["thang"] for m in body["chiTiet"]}
            for made in self._back_payments:
                if made.body["doiTuongId"] == record.id and (taken := sorted(sent & made.months)):
                    raise SandboxError(409, "TRANG_THAI_KHONG_PHU_HOP", [FieldError(
                        "chiTiet", f"Các tháng {', '.join(taken)} đã được truy lĩnh ({made.answer['id']})")],
                        thongDiep="Trạng thái không phù hợp")
            list_month = record.list_month(today)
            faults = back_payment_faults(body, record.owed_back(today), record.thangBatDauHuong, list_month)
            if faults:
                raise SandboxError(422, WRONG_AMOUNT, faults)
            answer = {"id": new_id("TL"), "thangChiTra": list_month}
            self._back_payments.append(BackPayment(now, client_id, copy.deepcopy(body), copy.deepcopy(answer)))
            return answer

    def stop(self, beneficiary_id: str, body: dict[str, Any], *, client_id: str, now: str) -> dict[str, Any]:
        """``thoi-huong`` with a body that passed :func:`validate_stop`: the 200 answer, or 404/409/422.

        Stopped already from the same month: the same answer again, nothing changes. From another month: 409.
        """
        with self.lock:
            record = self._records.get(beneficiary_id)
            if record is None:
                raise not_found("id")
            month = body["thangThoiHuong"]
            if record.trangThaiHuong == DA_THOI_HUONG and record.thangThoiHuong != month:
                raise SandboxError(409, "TRANG_THAI_KHONG_PHU_HOP", [FieldError(
                    "thangThoiHuong", f"Đối tượng đã thôi hưởng từ tháng {record.thangThoiHuong}")],
                    thongDiep="Trạng thái hưởng không phù hợp")
            expected = record.expected_recovery(month)
            faults = recovery_faults(body["truyThu"], expected, month)
            if faults:
                raise SandboxError(422, WRONG_AMOUNT, faults)
            answer = {"id": record.id, "trangThaiHuong": DA_THOI_HUONG, "thangThoiHuong": month,
                      "truyThu": expected.as_ministry() if expected is not None else None}
            if record.trangThaiHuong != DA_THOI_HUONG:
                self._records[record.id] = replace(record, trangThaiHuong=DA_THOI_HUONG, thangThoiHuong=month)
                self._stops.append(Stop(now, client_id, record.id, copy.deepcopy(body), copy.deepcopy(answer)))
            return answer


def recovery_faults(sent: Mapping[str, Any] | None, expected: money.Span | None, stop_month: str) -> list[FieldError]:
    """Where a (well-formed) ``truyThu`` disagrees with what the payment record says was paid."""
    if expected is None:
        if sent is None:
            return []
        return [FieldError("truyThu", f"Không có tháng nào từ {stop_month} đã được chi trả: truyThu phải là null")]
    paid = dict(expected.months)
    if sent is None:
        listed = ", ".join(f"{m} ({a})" for m, a in expected.months)
        return [FieldError("truyThu", f"Đã chi trả các tháng {listed}, tổng {expected.total}: truyThu không được null")]
    faults: list[FieldError] = []
    named: set[str] = set()
    for i, item in enumerate(sent["chiTiet"]):
        month, amount = item["thang"], item["soTien"]
        named.add(month)
        if month not in paid:
            faults.append(FieldError(f"truyThu.chiTiet[{i}].thang",
                                     f"Tháng {month} không được chi trả sau tháng thôi hưởng {stop_month}"))
        elif amount != paid[month]:
            faults.append(FieldError(f"truyThu.chiTiet[{i}].soTien",
                                     f"Tháng {month} đã chi trả {paid[month]}, không phải {amount}"))
    for month, amount in expected.months:
        if month not in named:
            faults.append(FieldError("truyThu.chiTiet", f"Thiếu tháng {month} (đã chi trả {amount})"))
    if sent["soTien"] != expected.total:
        faults.append(FieldError("truyThu.soTien",
                                 f"Tổng số đã chi trả là {expected.total}, không phải {sent['soTien']}"))
    return faults


def back_payment_faults(body: Mapping[str, Any], owed: money.Span, start: str, list_month: str) -> list[FieldError]:
    """Where a (well-formed) back-payment disagrees with the months the record owes back and their amounts."""
    amounts = dict(owed.months)
    faults: list[FieldError] = []
    for i, item in enumerate(body["chiTiet"]):
        month, amount = item["thang"], item["soTien"]
        if month not in amounts:
            why = (f"trước tháng bắt đầu hưởng {start}" if month < start
                   else f"do bảng chi trả tháng {list_month} trở đi chi trả")
            faults.append(FieldError(f"chiTiet[{i}].thang", f"Tháng {month} không được truy lĩnh: {why}"))
        elif amount != amounts[month]:
            faults.append(FieldError(f"chiTiet[{i}].soTien", f"Tháng {month} là {amounts[month]}, không phải {amount}"))
    expected = sum(amounts.get(m["thang"], 0) for m in body["chiTiet"])
    if faults and body["soTien"] != expected:
        faults.append(FieldError("soTien", f"Tổng số của các tháng đã gửi là {expected}, không phải {body['soTien']}"))
    return faults


def _month_before(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def _months(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``, both included (empty when ``last`` is before ``first``)."""
    out: list[str] = []
    year, number = int(first[:4]), int(first[5:7])
    while f"{year:04d}-{number:02d}" <= last and len(out) <= MAX_RECOVERY_MONTHS:
        out.append(f"{year:04d}-{number:02d}")
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return out


# ---- validation ---------------------------------------------------------------------------------------------


def _month(c: Checker, obj: Mapping[str, Any], key: str, path: str) -> str | None:
    return c.text(obj, key, path, max_len=7, pattern=_MONTH, pattern_message=MONTH_FORMAT)


def _amount(c: Checker, obj: Mapping[str, Any], key: str, path: str) -> int | None:
    value = c.value(obj, key, path)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        c.add(f"{path}.{key}" if path else key, "Phải là số nguyên dương (đồng)")
        return None
    return value


def validate_stop(body: dict[str, Any], *, today: date) -> dict[str, Any]:
    """``body`` if it is a valid ``thoi-huong`` body (§8), else 400 listing every fault.

    Only ``ghiChu`` and ``truyThu`` may be null; ``thangThoiHuong`` must be the month after ``ngaySuKien``
    for a death (Decree 20 art. 8.2), and after the event's month for any other reason (our reading).
    """
    c = Checker(optional=("ghiChu", "truyThu"))
    top = c.fields(body, "", STOP_FIELDS)
    assert top is not None
    reason = c.choice(top, "lyDo", "", STOP_REASONS, "lý do")
    event = c.day(top, "ngaySuKien", "")
    if event is not None and event > today:
        c.add("ngaySuKien", "Ngày sự kiện không được sau hôm nay")
    stop_month = _month(c, top, "thangThoiHuong", "")
    if event is not None and stop_month is not None:
        after = money.month_after(event)
        if reason == CHET and stop_month != after:
            c.add("thangThoiHuong", f"Thôi hưởng từ tháng sau tháng chết: {after}")
        elif reason == KHONG_DU_DIEU_KIEN and stop_month < after:
            c.add("thangThoiHuong", f"Thôi hưởng từ tháng sau tháng của sự kiện: từ {after}")
    _recovery(c, top)
    raw_basis = c.value(top, "canCu", "")
    if raw_basis is not None and (basis := c.fields(raw_basis, "canCu", BASIS_FIELDS)) is not None:
        c.text(basis, "loai", "canCu", max_len=64, pattern=_BASIS_KIND,
               pattern_message="Loại căn cứ là mã chữ in hoa, ví dụ TRICH_LUC_KHAI_TU")
        c.text(basis, "so", "canCu", max_len=MAX_NAME)
        issued = c.day(basis, "ngay", "canCu")
        if issued is not None and issued > today:
            c.add("canCu.ngay", "Ngày của căn cứ không được sau hôm nay")
    c.text(top, "ghiChu", "", max_len=MAX_NOTE)
    if c.errors:
        raise invalid(c.errors)
    return body


def _recovery(c: Checker, top: Mapping[str, Any]) -> None:
    raw = top.get("truyThu")
    if raw is None:
        return
    obj = c.fields(raw, "truyThu", RECOVERY_FIELDS)
    if obj is None:
        return
    _amount(c, obj, "soTien", "truyThu")
    months = c.value(obj, "chiTiet", "truyThu")
    if months is None:
        return
    if not isinstance(months, list) or not months:
        c.add("truyThu.chiTiet", "Phải là danh sách có ít nhất một tháng (không có tháng nào: truyThu null)")
        return
    if len(months) > MAX_RECOVERY_MONTHS:
        c.add("truyThu.chiTiet", f"Tối đa {MAX_RECOVERY_MONTHS} tháng")
        return
    previous: str | None = None
    for i, item in enumerate(months):
        path = f"truyThu.chiTiet[{i}]"
        entry = c.fields(item, path, RECOVERY_MONTH_FIELDS)
        if entry is None:
            continue
        month = _month(c, entry, "thang", path)
        _amount(c, entry, "soTien", path)
        if month is not None:
            if previous is not None and month <= previous:
                c.add(f"{path}.thang", "Các tháng phải tăng dần, mỗi tháng một lần")
            previous = month


def validate_back_payment(body: dict[str, Any], *, today: date) -> dict[str, Any]:
    """``body`` if it is exactly a ``truy-linh`` body (§9), else 400 listing every fault.

    Nothing may be null. Months are ``YYYY-MM``, ``tuThang`` ≤ ``denThang``; ``chiTiet`` lists exactly the months
    from ``tuThang`` to ``denThang``, in order, each once, with positive whole amounts; ``soTien`` is their sum;
    ``canCu`` is ``{soQuyetDinh, ngayQuyetDinh}``, the decision's date not after today.
    """
    c = Checker(optional=())
    top = c.fields(body, "", BACK_PAYMENT_FIELDS)
    assert top is not None
    c.text(top, "doiTuongId", "", max_len=43, pattern=_RECORD_ID, pattern_message="Mã đối tượng có dạng DT-…")
    c.text(top, "hoSoId", "", max_len=43, pattern=_DOSSIER_ID, pattern_message="Mã hồ sơ có dạng HS-…")
    first = _month(c, top, "tuThang", "")
    last = _month(c, top, "denThang", "")
    if first is not None and last is not None and first > last:
        c.add("denThang", "Không được trước tuThang")
        first = last = None
    total = _amount(c, top, "soTien", "")
    months = c.value(top, "chiTiet", "")
    expected = _months(first, last) if first is not None and last is not None else None
    if months is not None and not (isinstance(months, list) and months):
        c.add("chiTiet", "Phải là danh sách có ít nhất một tháng")
    elif isinstance(months, list) and len(months) > MAX_RECOVERY_MONTHS:
        c.add("chiTiet", f"Tối đa {MAX_RECOVERY_MONTHS} tháng")
    elif isinstance(months, list):
        amounts: list[int | None] = []
        for i, item in enumerate(months):
            path = f"chiTiet[{i}]"
            entry = c.fields(item, path, RECOVERY_MONTH_FIELDS)
            if entry is None:
                amounts.append(None)
                continue
            month = _month(c, entry, "thang", path)
            amounts.append(_amount(c, entry, "soTien", path))
            if month is not None and expected is not None and (i >= len(expected) or month != expected[i]):
                wanted = f"phải là {expected[i]}" if i < len(expected) else f"sau denThang {last}"
                c.add(f"{path}.thang", f"Các tháng từ tuThang đến denThang, theo thứ tự: tháng thứ {i + 1} {wanted}")
        if expected is not None and len(months) < len(expected):
            c.add("chiTiet", f"Thiếu các tháng {', '.join(expected[len(months):])} (từ {first} đến {last})")
        if total is not None and all(a is not None for a in amounts) and total != sum(a or 0 for a in amounts):
            c.add("soTien", f"Phải bằng tổng chiTiet: {sum(a or 0 for a in amounts)}")
    raw_basis = c.value(top, "canCu", "")
    if raw_basis is not None and (basis := c.fields(raw_basis, "canCu", BACK_PAYMENT_BASIS_FIELDS)) is not None:
        c.text(basis, "soQuyetDinh", "canCu", max_len=MAX_NAME)
        issued = c.day(basis, "ngayQuyetDinh", "canCu")
        if issued is not None and issued > today:
            c.add("canCu.ngayQuyetDinh", "Ngày quyết định không được sau hôm nay")
    if c.errors:
        raise invalid(c.errors)
    return body


def approved_record(person: Any, dossier_id: str, decision: Mapping[str, Any], first_list: str) -> Beneficiary:
    """The §8 record an approval makes (§9): the dossier's ``doiTuong``, DANG_HUONG at the decision's
    ``mucHuongThang`` from its ``thangBatDauHuong``, ``daChiTraDenThang`` the month before ``first_list`` (the
    first monthly list that carries the person; null when that is the start month: nothing owed back).
    400 on ``thangChiTraDauTien`` when the dossier has no usable ``doiTuong`` or the amount cannot be computed."""
    keys = ("soDinhDanh", "hoTen", "ngaySinh", "gioiTinh", "nhomDoiTuong")
    address = person.get("noiThuongTru") if isinstance(person, dict) else None
    commune = address.get("maXa") if isinstance(address, dict) else None
    if not isinstance(person, dict) or not all(isinstance(person.get(k), str) for k in keys) \
            or not isinstance(commune, str):
        raise invalid([FieldError("thangChiTraDauTien", "Hồ sơ không có đủ thông tin đối tượng để lập hồ sơ hưởng")])
    start, amount = decision["thangBatDauHuong"], decision["mucHuongThang"]
    if amount <= 0:
        raise invalid([FieldError("quyetDinh.mucHuongThang", "Mức hưởng phải dương khi có tháng chi trả đầu tiên")])
    record = Beneficiary(new_id("DT"), person["soDinhDanh"], person["hoTen"], person["ngaySinh"], person["gioiTinh"],
                         person["nhomDoiTuong"], commune, DANG_HUONG, amount, start,
                         None if first_list == start else _month_before(first_list), dossier_id)
    try:
        money.monthly_amount(record.nhomDoiTuong, record.ngaySinh, start, children=record._children(start))
    except ValueError as exc:
        field_ = "quyetDinh.mucHuongThang" if str(exc) == "amount_not_per_child" else "thangChiTraDauTien"
        raise invalid([FieldError(field_, f"Không tính được số tiền hằng tháng ({exc})")]) from None
    return record


def parse_beneficiary(body: Any, path: str = "") -> Beneficiary:
    """A seeded record from its JSON (the §8 names; ``id`` and ``hoSoId`` optional, fresh when absent;
    ``daChiTraDenThang`` may be null; ``thangThoiHuong`` required exactly when ``DA_THOI_HUONG``); 400 otherwise."""
    def at(key: str) -> str:
        return f"{path}.{key}" if path else key

    c = Checker(optional=[at(k) for k in ("id", "hoSoId", "daChiTraDenThang", "thangThoiHuong")])
    obj = c.fields(body, path, SEED_FIELDS)
    if obj is None:
        raise invalid(c.errors)
    record_id = c.text(obj, "id", path, max_len=43, pattern=_RECORD_ID, pattern_message="Mã đối tượng có dạng DT-…")
    personal_id = c.text(obj, "soDinhDanh", path, max_len=12, pattern=_PERSONAL_ID,
                         pattern_message="Số định danh gồm đúng 12 chữ số")
    name = c.text(obj, "hoTen", path, max_len=MAX_NAME)
    birth = c.text(obj, "ngaySinh", path, max_len=10, pattern=_BIRTH,
                   pattern_message="Ngày sinh có dạng YYYY-MM-DD, YYYY-MM hoặc YYYY")
    gender = c.choice(obj, "gioiTinh", path, codes.GENDERS, "giới tính")
    group = c.choice(obj, "nhomDoiTuong", path, codes.BENEFICIARY_GROUPS, "nhóm đối tượng")
    commune = c.text(obj, "maXa", path, max_len=5, pattern=re.compile(r"[0-9]{5}"),
                     pattern_message="Mã xã gồm năm chữ số (danh mục từ 01/7/2025)")
    if commune is not None and commune not in communes():
        c.add(at("maXa"), f"Mã xã {commune} không có trong danh mục đơn vị hành chính hiện hành")
    status = c.choice(obj, "trangThaiHuong", path, ALLOWANCE_STATUSES, "trạng thái hưởng")
    amount = _amount(c, obj, "mucHuongThang", path)
    start = _month(c, obj, "thangBatDauHuong", path)
    paid = _month(c, obj, "daChiTraDenThang", path)
    if start is not None and paid is not None and paid < start:
        c.add(at("daChiTraDenThang"), "Không được trước tháng bắt đầu hưởng")
    dossier = c.text(obj, "hoSoId", path, max_len=43, pattern=_DOSSIER_ID, pattern_message="Mã hồ sơ có dạng HS-…")
    stopped = _month(c, obj, "thangThoiHuong", path)
    if status == DA_THOI_HUONG and stopped is None and obj.get("thangThoiHuong") is None:
        c.add(at("thangThoiHuong"), "Bắt buộc khi trangThaiHuong là DA_THOI_HUONG")
    elif status is not None and status != DA_THOI_HUONG and obj.get("thangThoiHuong") is not None:
        c.add(at("thangThoiHuong"), "Chỉ có khi trangThaiHuong là DA_THOI_HUONG")
    if c.errors:
        raise invalid(c.errors)
    assert personal_id and name and birth and gender and group and commune and status and amount and start
    record = Beneficiary(record_id or new_id("DT"), personal_id, name, birth, gender, group, commune, status, amount,
                         start, paid, dossier or new_id("HS"), stopped)
    try:
        record.expected_recovery(start)  # the sandbox must be able to compute this person's months
    except ValueError as exc:
        field_ = "mucHuongThang" if str(exc) == "amount_not_per_child" else "ngaySinh"
        raise invalid([FieldError(at(field_), f"Không tính được số tiền hằng tháng ({exc})")]) from None
    return record
