"""The people the sandbox's population database holds: the default seed, and a thread-safe registry.

``DEFAULT_PEOPLE`` makes the gateway's own sample dossiers verify KHOP (the beneficiary of
``adapters/province/samples.py``, the same person in the allowance and the funeral sample) and adds a
person recorded dead and one whose birth date is recorded to the year only. A test checks that the
samples' beneficiaries are in it, field for field. To make a sample that does NOT match, post a dossier
whose beneficiary differs from one of these in a field (e.g. ``NgaySinh`` ``03/03/1941`` for Nguyễn Thị
Hoa: SAI_LECH on ``ngaySinh``), or seed someone else through ``POST /_sandbox/people``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from adapters.ministry.sandbox.errors import FieldError, invalid
from adapters.ministry.sandbox.validation import Checker
from adapters.population.sandbox.matching import parse_partial_date, recorded_name

GENDERS = ("NAM", "NU")
PERSON_FIELDS = ("soDinhDanh", "hoTen", "ngaySinh", "gioiTinh", "daMat", "ngayMat")
_ID = re.compile(r"[0-9]{12}")


@dataclass(frozen=True, slots=True)
class Person:
    """One record: ``ngaySinh`` full or partial (``YYYY-MM``, ``YYYY``), ``ngayMat`` when dead."""

    soDinhDanh: str  # the contract's names, so a record reads like the answer
    hoTen: str
    ngaySinh: str
    gioiTinh: str
    daMat: bool = False
    ngayMat: str | None = None
    note: str | None = field(default=None, compare=False)  # why this person is in the seed

    def as_json(self) -> dict[str, Any]:
        """The record in the contract's field names."""
        return {"soDinhDanh": self.soDinhDanh, "hoTen": self.hoTen, "ngaySinh": self.ngaySinh,
                "gioiTinh": self.gioiTinh, "daMat": self.daMat, "ngayMat": self.ngayMat}


DEFAULT_PEOPLE: tuple[Person, ...] = (
    Person("038141001234", "Nguyễn Thị Hoa", "1941-03-02", "NU",
           note="the beneficiary of adapters/province/samples.py (allowance and funeral samples): KHOP"),
    Person("038038002468", "Lê Văn Thành", "1938-07-15", "NAM", daMat=True, ngayMat="2024-09-28",
           note="recorded dead (daMat, ngayMat)"),
    Person("038130005678", "Phạm Thị Lan", "1930", "NU",
           note="birth date recorded to the year only: any date in 1930 agrees"),
)
"""Who the sandbox holds at start (and after ``POST /_sandbox/reset``) unless configured otherwise."""


def default_people() -> list[dict[str, Any]]:
    """The default seed in the contract's field names (for tests and for adding samples that mismatch)."""
    return [p.as_json() for p in DEFAULT_PEOPLE]


def parse_person(body: Any, path: str = "") -> Person:
    """A record from its JSON (the contract's names; ``daMat``/``ngayMat`` optional); 400 listing every fault.

    The name is stored as the database records names: NFC, single spaces.
    """
    c = Checker(optional=[_join(path, k) for k in ("daMat", "ngayMat")])
    obj = c.fields(body, path, PERSON_FIELDS)
    if obj is None:
        raise invalid(c.errors)
    personal_id = c.text(obj, "soDinhDanh", path, max_len=12, pattern=_ID, pattern_message="Phải gồm 12 chữ số")
    name = c.text(obj, "hoTen", path, max_len=255)
    birth = c.text(obj, "ngaySinh", path, max_len=10)
    if birth is not None and parse_partial_date(birth) is None:
        c.add(_join(path, "ngaySinh"), "Ngày sinh phải có dạng YYYY-MM-DD, YYYY-MM hoặc YYYY")
    gender = c.choice(obj, "gioiTinh", path, GENDERS, "giới tính")
    dead = obj.get("daMat", False)
    if not isinstance(dead, bool):
        c.add(_join(path, "daMat"), "Phải là true hoặc false")
    death = obj.get("ngayMat")
    if death is not None:
        if not isinstance(death, str) or len(parse_partial_date(death) or ()) != 3:
            c.add(_join(path, "ngayMat"), "Ngày mất phải có dạng YYYY-MM-DD")
        elif dead is not True:
            c.add(_join(path, "ngayMat"), "Chỉ có ngày mất khi daMat là true")
    if c.errors or personal_id is None or name is None or birth is None or gender is None:
        raise invalid(c.errors or [FieldError(path or "$", "Không hợp lệ")])
    return Person(personal_id, recorded_name(name), birth, gender, daMat=bool(dead),
                  ngayMat=death if isinstance(death, str) else None)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class PeopleRegistry:
    """The records by soDinhDanh; ``reset()`` puts the start-up seed back."""

    def __init__(self, seed: Iterable[Person]) -> None:
        self._seed = tuple(seed)
        self._lock = threading.Lock()
        self._people: dict[str, Person] = {p.soDinhDanh: p for p in self._seed}

    def get(self, personal_id: str) -> Person | None:
        """The record of ``personal_id``, if any."""
        with self._lock:
            return self._people.get(personal_id)

    def all(self) -> list[Person]:
        """Every record, by soDinhDanh."""
        with self._lock:
            return [self._people[k] for k in sorted(self._people)]

    def put(self, people: Iterable[Person]) -> None:
        """Add or replace records."""
        with self._lock:
            for person in people:
                self._people[person.soDinhDanh] = person

    def remove(self, personal_id: str) -> bool:
        """Forget one record; False if there was none."""
        with self._lock:
            return self._people.pop(personal_id, None) is not None

    def clear(self) -> int:
        """Forget everyone; returns how many there were."""
        with self._lock:
            count = len(self._people)
            self._people.clear()
            return count

    def reset(self) -> None:
        """Back to the start-up seed."""
        with self._lock:
            self._people = {p.soDinhDanh: p for p in self._seed}

