"""The connector's sandbox definition, compiled into `_sandbox_data.json` next to this module.

Plain data, never code: `timestamps` (fields stamped on writes), `behaviours` (vendor behaviours
the API definition cannot express) and `seed` (the seed recipes `seed.py` interprets). A connector
without a sandbox definition gets empty parts: made-up data and no behaviour.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).with_name("_sandbox_data.json")


def load_data(path: Path = DATA_FILE) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    for part in ("timestamps", "behaviours", "seed"):
        if not isinstance(data.get(part), dict):
            data[part] = {}
    return data


DATA = load_data()
TIMESTAMPS: dict[str, Any] = DATA["timestamps"]
BEHAVIOURS: dict[str, Any] = DATA["behaviours"]
SEED: dict[str, Any] = DATA["seed"]
CREATED: str | None = TIMESTAMPS.get("created")
UPDATED: str | None = TIMESTAMPS.get("updated")


def stamp_updated(obj: dict[str, Any], props: dict[str, Any], now: str) -> None:
    """Set the declared `updated` time of an object whose schema has that field."""
    if UPDATED and UPDATED in props:
        obj[UPDATED] = now
