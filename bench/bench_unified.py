"""Unified mapping speed: 100,000 Gorgias tickets -> unified ticket records.

    python bench/bench_unified.py        (or `python bench/run.py unified`)

Three implementations of the same mapping (unified_mappings/gorgias/ticketing/tickets.yaml):

- generated: `gorgias.unified.mappers.ticketing_ticket_from_gorgias`, the plain Python that
  `connectorgen generate` compiles from the declarative mapping;
- hand-written: the function a developer would write by hand for the same output (the baseline);
- JSONata: the same mapping as a JSONata expression run by `jsonata-python` (the language another
  unified API vendor uses for its mappings), for context. It is much slower, so it maps a sample
  and the time is scaled to 100,000.

All three are checked to give the same records before timing. Reported: seconds (best of
`REPEATS`), generated/hand-written ratio (target <= 1.5) and JSONata/hand-written ratio.
"""

from __future__ import annotations

import copy
import gc
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COUNT = 100_000
REPEATS = 5
JSONATA_SAMPLE = 1_000
TARGET_RATIO = 1.5
CTX = {"subdomain": "acme", "base_url": "https://acme.gorgias.com"}

if importlib.util.find_spec("gorgias") is None:
    sys.path.insert(0, str(ROOT / "generated" / "gorgias" / "python"))
sys.path.insert(0, str(ROOT))

# --- the hand-written baseline -------------------------------------------------------------------

PRIORITY = {"critical": "urgent", "high": "high", "normal": "normal", "low": "low"}
CHANNEL = {
    "aircall": "phone", "api": "api", "chat": "chat", "contact_form": "contact_form", "email": "email",
    "facebook": "facebook", "facebook-mention": "facebook", "facebook-messenger": "facebook",
    "facebook-recommendations": "facebook", "help-center": "help_center", "instagram-ad-comment": "instagram",
    "instagram-comment": "instagram", "instagram-direct-message": "instagram", "instagram-mention": "instagram",
    "internal-note": "internal_note", "phone": "phone", "sms": "sms", "twitter": "twitter",
    "twitter-direct-message": "twitter", "whatsapp": "whatsapp", "yotpo-review": "review",
}


def iso(value: Any) -> Any:
    """ISO 8601 with an offset (naive Gorgias datetimes are UTC)."""
    if not isinstance(value, str) or len(value) <= 10:
        return value
    if value.endswith("Z"):
        return value[:-1] + "+00:00"
    if "+" in value[10:] or "-" in value[10:]:
        return value
    return value + "+00:00"


def first_text(*values: Any) -> Any:
    for value in values:
        if value not in (None, ""):
            return value
    return None


def handwritten(t: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict[str, Any]:
    messages = t.get("messages") or []
    first = messages[0] if messages else {}
    first_message = t.get("first_message") or {}
    sender = first.get("sender") or {}
    fm_sender = first_message.get("sender") or {}
    customer = t.get("customer")
    user = t.get("assignee_user") or {}
    team = t.get("assignee_team") or {}
    user_id = user.get("id", t.get("assignee_user_id"))
    team_id = team.get("id", t.get("assignee_team_id"))
    sender_id = sender.get("id", fm_sender.get("id"))
    status = t.get("status")
    if t.get("trashed_datetime"):
        status = "deleted"
    elif t.get("spam"):
        status = "spam"
    priority = t.get("priority")
    channel = t.get("channel")
    subdomain = ctx.get("subdomain")
    return {
        "id": str(t["id"]),
        "number": str(t["id"]),
        "name": t.get("subject"),
        "description": first_text(first.get("body_text"), first_message.get("body_text"), first.get("stripped_text")),
        "status": status,
        "priority": PRIORITY.get(priority, priority),
        "channel": CHANNEL.get(channel, channel),
        "contact": None if not customer or customer.get("id") is None else {
            "id": str(customer["id"]), "name": first_text(customer.get("name"), customer.get("email"))},
        "created_by": None if sender_id is None else {
            "id": str(sender_id),
            "name": first_text(sender.get("name"), fm_sender.get("name"), sender.get("email"), fm_sender.get("email")),
            "email": first_text(sender.get("email"), fm_sender.get("email")),
            "type": "user" if t.get("from_agent") else "contact",
        },
        "assignees": [] if user_id is None else [{"id": str(user_id), "name": user.get("name")}],
        "team": None if team_id is None else {"id": str(team_id), "name": team.get("name")},
        "tags": [{"id": str(tag["id"]), "name": tag.get("name")} for tag in t.get("tags") or ()],
        "language": t.get("language"),
        "ticket_url": None if subdomain is None else f"https://{subdomain}.gorgias.com/app/ticket/{t['id']}",
        "custom_fields": t.get("custom_fields"),
        "closed_at": iso(t.get("closed_datetime")),
        "last_activity_at": iso(t.get("last_message_datetime")),
        "created_at": iso(t.get("created_datetime")),
        "updated_at": iso(t.get("updated_datetime")),
        "remote_data": t,
    }


# --- the same mapping in JSONata ------------------------------------------------------------------

JSONATA = """
(
  $dt := function($v) { $v = null ? null : (
    $substring($v, -1) = "Z" ? $substring($v, 0, $length($v) - 1) & "+00:00" :
    ($contains($substring($v, 10), /[+-]/) ? $v : $v & "+00:00")) };
  $first := function($vals) { $filter($vals, function($v) { $v != null and $v != "" })[0] };
  $map := function($table, $v) { ($m := $lookup($table, $v); $exists($m) ? $m : $v) };
  $t := $;
  $sid := $first([messages[0].sender.id, first_message.sender.id]);
  $uid := $first([assignee_user.id, assignee_user_id]);
  $tid := $first([assignee_team.id, assignee_team_id]);
  {
    "id": $string(id),
    "number": $string(id),
    "name": subject,
    "description": $first([messages[0].body_text, first_message.body_text, messages[0].stripped_text]),
    "status": trashed_datetime ? "deleted" : (spam ? "spam" : status),
    "priority": $map($priority, priority),
    "channel": $map($channel, channel),
    "contact": $exists(customer.id) ? {"id": $string(customer.id), "name": $first([customer.name, customer.email])} : null,
    "created_by": $exists($sid) ? {
      "id": $string($sid),
      "name": $first([messages[0].sender.name, first_message.sender.name, messages[0].sender.email, first_message.sender.email]),
      "email": $first([messages[0].sender.email, first_message.sender.email]),
      "type": from_agent ? "user" : "contact"
    } : null,
    "assignees": $exists($uid) ? [{"id": $string($uid), "name": assignee_user.name}] : [],
    "team": $exists($tid) ? {"id": $string($tid), "name": assignee_team.name} : null,
    "tags": [tags.{"id": $string(id), "name": name}],
    "language": language,
    "ticket_url": "https://" & $subdomain & ".gorgias.com/app/ticket/" & $string(id),
    "custom_fields": $exists(custom_fields) ? custom_fields : null,
    "closed_at": $dt(closed_datetime),
    "last_activity_at": $dt(last_message_datetime),
    "created_at": $dt(created_datetime),
    "updated_at": $dt(updated_datetime),
    "remote_data": $t
  }
)
"""


# --- data -----------------------------------------------------------------------------------------


def tickets(count: int) -> list[dict[str, Any]]:
    """`count` variants of the recorded Gorgias ticket (ids, dates, assignees, tags, statuses vary)."""
    from tests.unified.payloads import TAG, TICKET

    base = copy.deepcopy(TICKET)
    team = {"decoration": None, "id": 77, "name": "Tier 2"}
    tags = [TAG, {**TAG, "id": 99, "name": "vip"}]
    out = []
    for i in range(count):
        t = dict(base)
        t["id"] = 80_000_000 + i
        t["updated_datetime"] = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:30:50.{i % 1000000:06d}"
        if i % 3 == 0:
            t["assignee_team"], t["assignee_team_id"] = team, 77
        if i % 4 == 0:
            t["tags"] = tags
        if i % 5 == 0:
            t["status"], t["closed_datetime"] = "closed", "2024-03-01T10:00:00Z"
        if i % 7 == 0:
            t["priority"] = "critical"
        if i % 11 == 0:
            t["assignee_user"], t["assignee_user_id"] = None, None
        out.append(t)
    return out


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run() -> dict[str, Any]:
    from gorgias.unified.mappers import ticketing_ticket_from_gorgias as generated

    data = tickets(COUNT)
    for t in data[:500]:  # same records from all implementations
        assert generated(t, CTX, None) == handwritten(t, CTX), t["id"]

    gen_s = best_of(lambda: [generated(t, CTX, None) for t in data], REPEATS)
    hand_s = best_of(lambda: [handwritten(t, CTX) for t in data], REPEATS)
    result: dict[str, Any] = {
        "tickets": COUNT,
        "generated_seconds": round(gen_s, 4),
        "handwritten_seconds": round(hand_s, 4),
        "generated_vs_handwritten": round(gen_s / hand_s, 3),
        "target": f"<= {TARGET_RATIO}",
        "within_target": gen_s / hand_s <= TARGET_RATIO,
        "generated_us_per_ticket": round(gen_s / COUNT * 1e6, 3),
    }
    try:
        import jsonata
    except ImportError:
        result["jsonata"] = "not installed (pip install jsonata-python)"
        return result
    expression = jsonata.Jsonata(JSONATA)
    bindings = {"subdomain": CTX["subdomain"], "priority": PRIORITY, "channel": CHANNEL}
    sample = data[:JSONATA_SAMPLE]
    for t in sample[:50]:
        got = expression.evaluate(t, bindings)
        want = handwritten(t, CTX)
        got.pop("remote_data", None)
        want.pop("remote_data")
        assert json.loads(json.dumps(got)) == want, (t["id"], got, want)
    jsonata_sample_s = best_of(lambda: [expression.evaluate(t, bindings) for t in sample], 2)
    jsonata_s = jsonata_sample_s * COUNT / JSONATA_SAMPLE
    result.update({
        "jsonata_version": _version("jsonata-python"),
        "jsonata_sample": JSONATA_SAMPLE,
        "jsonata_seconds_scaled_to_100k": round(jsonata_s, 2),
        "jsonata_vs_handwritten": round(jsonata_s / hand_s, 1),
        "jsonata_vs_generated": round(jsonata_s / gen_s, 1),
    })
    return result


def _version(dist: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
