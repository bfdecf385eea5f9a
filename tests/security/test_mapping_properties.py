"""Property-based tests of the mapping and validation functions: any input gives a valid ministry body or
a non-empty list of field errors, never an exception (issue 6, item 4).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.province.samples import sample_dossier, sample_funeral_dossier
from mappings.errors import FieldError
from mappings.ministry import to_ministry_body
from mappings.model import Dossier
from mappings.province import parse_dossier
from tests.unit.mappings.helpers import attachments_for

TODAY = date(2024, 6, 1)
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = sorted({*sample_dossier(), *sample_dossier()["ChuHoSo"], *sample_dossier()["DuLieuToKhai"],
               *sample_dossier()["DuLieuToKhai"]["NoiThuongTru"], *sample_dossier()["TaiLieuNop"][0],
               "NoiDungBase64", "DuongDanTaiTepTin"})

# What json.loads can give (NaN and ±Infinity included: Python's decoder accepts them).
scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
           | st.sampled_from(["", " ", "0", "38", "16171", "01/01/1940", "20240115083000", "1.001776", "f1",
                              "TK_1C", "NCT_80_KHONG_LUONG", "038141001234", "\x00", "\u202e", "99999999999999"]))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=10), children, max_size=6),
    max_leaves=25,
)


def check(raw: Any) -> None:
    """The property: a Dossier that maps to a JSON body, or field errors; nothing raised."""
    dossier, errors = parse_dossier(raw, attachments_for(raw), today=TODAY)
    if dossier is None:
        assert errors, "no dossier and no error"
        assert all(isinstance(e, FieldError) and e.field and e.code and e.message for e in errors)
        return
    assert isinstance(dossier, Dossier)
    assert errors == []
    file_ids = {doc.file_id: f"TT-{index}" for index, doc in enumerate(dossier.documents)}
    body = to_ministry_body(dossier, file_ids, note="ghi chú")
    assert json.loads(json.dumps(body, ensure_ascii=False)) == body


@FAST
@given(raw=json_values)
def test_any_json_value(raw: Any) -> None:
    check(raw)


@FAST
@given(raw=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=12))
def test_any_object_with_the_dossier_keys(raw: dict[str, Any]) -> None:
    check(raw)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) inside a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(document: Any, path: tuple[Any, ...], change: Callable[[Any, Any], None]) -> None:
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    change(parent, path[-1])


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    """A valid sample dossier with a few values replaced, removed, or keys added."""
    document = copy.deepcopy(draw(st.sampled_from([sample_dossier(), sample_funeral_dossier()])))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            new = draw(json_values)
            _mutate(document, path, lambda parent, key, new=new: parent.__setitem__(key, new))
        elif action == "delete":
            _mutate(document, path, lambda parent, key: parent.__delitem__(key))
        else:
            key, new = draw(st.sampled_from(KEYS)), draw(json_values)

            def add(parent: Any, step: Any, key: str = key, new: Any = new) -> None:
                target = parent[step]
                if isinstance(target, dict):
                    target[key] = new
                elif isinstance(target, list):
                    target.append(new)

            _mutate(document, path, add)
    return document


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated_samples())
def test_mutations_of_a_valid_dossier(raw: Any) -> None:
    check(raw)


def test_the_samples_themselves_map() -> None:
    for raw in (sample_dossier(), sample_funeral_dossier()):
        dossier, errors = parse_dossier(raw, attachments_for(raw), today=TODAY)
        assert dossier is not None, errors
        check(raw)
