"""o200k token counts, offline.

    from bench.tokens import count_tokens      # from the repository root (tests)
    python bench/tokens.py [FILE ...]          # counts of files (or stdin), after the self-check

`tiktoken` downloads its BPE files on first use, which this project cannot rely on (no network in
CI). The `bpe-openai` package (PyPI, in the `test` and `bench` extras) ships the same o200k_base
vocabulary inside its wheel and encodes exactly like tiktoken: checked token for token against
tiktoken loaded with the o200k_base ranks of the npm package `js-tiktoken` over every generated
tools file, the definitions, the Markdown of this repository and 3,000 random mixed-script strings
(0 differences in 3,208 texts, 770k tokens). `KNOWN` below keeps a few of those ids so that a
wrong or changed vocabulary is caught by `self_check()` (run by the tests and by every bench that
counts tokens) instead of silently shifting every budget.
"""

from __future__ import annotations

import functools
import sys
import warnings
from typing import Any

ENCODING = "o200k_base"

# Text -> o200k_base token ids (tiktoken's answers).
KNOWN: dict[str, list[int]] = {
    "hello world": [24912, 2375],
    "Hello, world!": [13225, 11, 2375, 0],
    "The quick brown fox jumps over the lazy dog.": [
        976, 4853, 19705, 68347, 65613, 1072, 290, 29082, 6446, 13,
    ],
}


class TokenizerUnavailable(RuntimeError):
    """The offline o200k tokenizer is not installed."""


@functools.lru_cache(maxsize=1)
def _encoding() -> Any:
    # bpe-openai reads its vocabulary with a deprecated importlib call, on import
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import bpe_openai
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise TokenizerUnavailable(
                "o200k token counts need the `bpe-openai` package: pip install -e '.[test]'"
            ) from exc
        encoding = bpe_openai.get_encoding(ENCODING)
        encoding.encode_ordinary("load")
    return encoding


def encode(text: str) -> list[int]:
    """o200k_base token ids of `text` (special tokens are treated as plain text)."""
    return list(_encoding().encode_ordinary(text))


def count_tokens(text: str) -> int:
    """Number of o200k_base tokens in `text`."""
    return len(_encoding().encode_ordinary(text))


def self_check() -> None:
    """Raise if the installed vocabulary does not give the known o200k ids."""
    for text, expected in KNOWN.items():
        got = encode(text)
        if got != expected:
            raise AssertionError(f"o200k mismatch for {text!r}: {got} != {expected}")


def main(argv: list[str]) -> int:
    self_check()
    if not argv:
        print(count_tokens(sys.stdin.read()))
        return 0
    for name in argv:
        with open(name, encoding="utf-8") as handle:
            print(f"{count_tokens(handle.read()):>9}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
