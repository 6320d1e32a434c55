"""Pagination shapes Gorgias has sent that the standard `meta.next_cursor` does not cover.

Cassettes: cassettes/pagination_quirks/<test name>.yaml (hand-written, never re-recorded).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Recorder

pytestmark = [pytest.mark.hand_written_only, pytest.mark.connector("gorgias")]


@pytest.mark.vcr
def test_view_items_follow_next_items_url(make_client: Any, recorder: Recorder) -> None:
    client = make_client("gorgias")
    items = list(client.view_items.list(777, limit=1))
    assert [item.id for item in items] == [86538298, 86538311]
    assert len(recorder.requests) == 2
