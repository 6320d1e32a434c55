"""bench/tokens.py counts o200k tokens offline, the way tiktoken's o200k_base does."""

from __future__ import annotations

import json

from bench.tokens import KNOWN, count_tokens, encode, self_check


def test_known_o200k_ids() -> None:
    self_check()
    for text, ids in KNOWN.items():
        assert encode(text) == ids
        assert count_tokens(text) == len(ids)


def test_counts_of_structured_text() -> None:
    assert count_tokens("") == 0
    # JSON as a server sends it: punctuation, names and numbers each cost tokens.
    wire = json.dumps({"name": "list_tickets", "limit": 30}, separators=(",", ":"))
    assert count_tokens(wire) == len(encode(wire)) > 5
    # special-token text is counted as plain text, never refused
    assert count_tokens("<|endoftext|>") > 1
