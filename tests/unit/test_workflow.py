"""The step pattern's keys: derived from the workflow id and the step name, stable, within the ministry's limit."""

from __future__ import annotations

import uuid

import pytest

from gateway.workflow import Step


def test_a_step_key_names_the_step_then_the_workflow() -> None:
    assert Step("0f" * 16, "hs").key == "hs-" + "0f" * 16


def test_the_event_id_is_a_uuid_fixed_by_workflow_and_step() -> None:
    first = Step("d1", "announce").event_id
    assert uuid.UUID(first).version == 5
    assert Step("d1", "announce").event_id == first
    assert Step("d2", "announce").event_id != first
    assert Step("d1", "notify").event_id != first


def test_a_key_the_ministry_would_refuse_is_refused_here() -> None:
    with pytest.raises(ValueError, match="65 characters"):
        _ = Step("x" * 60, "long").key
