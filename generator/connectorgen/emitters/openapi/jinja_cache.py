"""A best-effort on-disk cache of compiled jinja2 templates, like Python's own `__pycache__`.

Compiling the templates is most of what the docs emitter spends on a cold run. The cache lives in
`templates/__pycache__/` next to the templates (ignored by the generator fingerprint and by git),
is keyed by jinja2 on the template source, and never changes the output. When the folder cannot
be written (read-only install) the templates are simply compiled every time.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import jinja2


class TemplateCache(jinja2.FileSystemBytecodeCache):
    def __init__(self, templates: Path) -> None:
        directory = templates / "__pycache__"
        with contextlib.suppress(OSError):
            directory.mkdir(exist_ok=True)
        super().__init__(str(directory), "jinja-%s.cache")

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)
