"""Real payload shapes parse into the generated models fully typed, because the schemas describe
them (`tests/fixtures/payloads/`, see its SOURCES.md): every declared field holds a value of its
declared type, nested objects are model instances and date-times are `datetime` or None. Nothing
relies on the models' tolerant fallback: payloads are validated with `strict=False`, pydantic's own
(lax) validation, which raises on the first value that does not match."""

from __future__ import annotations

import json
import types
import typing
from datetime import date, datetime
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel
from typing_extensions import TypeAliasType

from gorgias import models
from tests.conftest import REPO_ROOT

PAYLOADS = REPO_ROOT / "tests" / "fixtures" / "payloads"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return data


def conforms(value: Any, annotation: Any) -> bool:
    """Whether `value` is of the (resolved) field type: no raw dict where a model is declared,
    no text where a date-time is declared."""
    if annotation is Any:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    if isinstance(annotation, TypeAliasType):
        return conforms(value, annotation.__value__)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is typing.Annotated:
        return conforms(value, args[0])
    if origin in (Union, types.UnionType):
        return any(conforms(value, arg) for arg in args)
    if origin is Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(conforms(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return isinstance(value, annotation) and not untyped_fields(value)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(annotation, type) and isinstance(value, annotation)


def untyped_fields(model: BaseModel) -> list[str]:
    """Declared fields of `model` (recursively) whose value is not of the declared type, and
    declared fields that ended up among the extra fields."""
    cls = type(model)
    hints = typing.get_type_hints(cls, include_extras=True)  # field annotations may be forward refs
    bad = [name for name in cls.model_fields if not conforms(model.__dict__.get(name), hints[name])]
    declared = {
        *cls.model_fields,
        *(info.alias for info in cls.model_fields.values() if info.alias),
    }
    bad += [f"extra:{key}" for key in (model.model_extra or {}) if key in declared]
    return bad


def parse(model: type[BaseModel], name: str) -> Any:
    parsed = model.model_validate(payload(name), strict=False)  # no tolerant fallback
    assert untyped_fields(parsed) == []
    return parsed


def test_the_checker_rejects_an_untyped_value() -> None:
    # A model built without validation that holds a dict where a model belongs is caught.
    team = models.Team.model_construct(decoration={"emoji": "x"})
    assert untyped_fields(team) == ["decoration"]


def test_message_rule_id_empty_string() -> None:
    message = parse(models.Message, "message_rule_id_empty.json")
    assert message.rule_id == ""
    assert models.Message.model_validate({"rule_id": 7}, strict=False).rule_id == 7


def test_message_meta_and_last_sending_error_as_strings() -> None:
    message = parse(models.Message, "message_meta_and_error_strings.json")
    assert message.meta == "imported"
    assert message.last_sending_error == "Recipient address rejected"


def test_team_emoji_object_and_whole_user_members() -> None:
    team = parse(models.Team, "team_emoji_object.json")
    assert isinstance(team.decoration, models.TeamDecoration)
    assert team.decoration.emoji == {
        "id": "wave",
        "name": "Waving Hand",
        "native": "👋",
        "unified": "1f44b",
    }
    (member,) = team.members
    assert isinstance(member, models.User)
    assert (member.id, member.email, member.active) == (401, "agent@example.com", True)
    assert isinstance(member.role, models.UserRole) and member.role.name == "agent"
    assert member.created_datetime == datetime(2023, 4, 2, 9, 15)


def test_integration_http_form_string_managed_and_user() -> None:
    integration = parse(models.Integration, "integration_form_string.json")
    assert isinstance(integration.http, models.IntegrationHttp)
    assert integration.http.form == '{"ticket": "{{ticket.id}}"}'
    assert integration.managed is False
    assert isinstance(integration.user, models.User) and integration.user.id == 401


def test_satisfaction_survey_fractional_score() -> None:
    survey = parse(models.SatisfactionSurvey, "satisfaction_survey_fractional_score.json")
    assert survey.score == 4.5


def test_date_only_and_empty_datetimes() -> None:
    ticket = parse(models.Ticket, "ticket_datetimes_date_only_and_empty.json")
    # A date alone is midnight of that day; like other offset-less values it carries no offset.
    assert ticket.created_datetime == datetime(2024, 1, 5, 0, 0)
    assert ticket.updated_datetime == datetime(2024, 1, 5, 8, 30, 0, 123456)
    assert ticket.closed_datetime is None  # ""
    assert ticket.snooze_datetime is None
    for value in (ticket.created_datetime, ticket.updated_datetime):
        assert isinstance(value, datetime | date)


def test_empty_datetime_is_none_but_bad_text_still_fails() -> None:
    from pydantic import ValidationError

    assert (
        models.Ticket.model_validate({"opened_datetime": ""}, strict=False).opened_datetime is None
    )
    with pytest.raises(ValidationError):
        models.Ticket.model_validate({"opened_datetime": "yesterday"}, strict=False)


def test_ticket_tag_without_id_parses() -> None:
    ticket = parse(models.Ticket, "ticket_tag_without_id.json")
    assert [(tag.id, tag.name) for tag in ticket.tags] == [(801, "vip"), (None, "shipping")]
    assert all(isinstance(tag, models.Tag) for tag in ticket.tags)


def test_ticket_summary_fields() -> None:
    ticket = parse(models.Ticket, "ticket_summary_fields.json")
    assert ticket.excerpt == "Hi, my parcel has not arrived yet..."
    assert ticket.messages_count == 3
    assert isinstance(ticket.requester, models.Customer) and ticket.requester.id == 701


def test_custom_field_requirement_type() -> None:
    field = parse(models.CustomField, "custom_field_requirement_type.json")
    assert field.requirement_type == "conditional"
    assert isinstance(field.definition, models.CustomFieldDefinition)


def test_rule_settings_and_type() -> None:
    rule = parse(models.Rule, "rule_settings_and_type.json")
    assert rule.type == "user"
    assert rule.settings == {"stop_processing": False}


def test_user_security_flags() -> None:
    user = parse(models.User, "user_security_flags.json")
    assert (user.has_2fa_enabled, user.has_password) == (True, False)


def test_account_id_subscription_and_meta() -> None:
    account = parse(models.Account, "account_subscription.json")
    assert account.id == 1101
    assert account.current_subscription == {"status": "active", "products": {"helpdesk": "pro"}}
    assert account.meta == {"onboarded": True}


@pytest.mark.parametrize(
    ("name", "cursor"),
    [
        ("job_progress_cursor_number.json", 12345),
        ("job_progress_cursor_string.json", "eyJpZCI6IDEwfQ=="),
    ],
)
def test_job_progress_cursor_number_or_string(name: str, cursor: int | str) -> None:
    job = parse(models.Job, name)
    assert isinstance(job.info, models.JobInfo)
    assert job.info.progress_cursor == cursor and type(job.info.progress_cursor) is type(cursor)


def test_voice_call_answered_by_external_number() -> None:
    call = parse(models.VoiceCall, "voice_call_answered_externally.json")
    assert call.answered_by_external_number == "+15550100"
    assert call.answered_by_external_customer_id == 701


def test_view_shared_with_whole_users() -> None:
    view = parse(models.View, "view_shared_with_users.json")
    (user,) = view.shared_with_users or []
    assert isinstance(user, models.User) and user.email == "agent@example.com"
    (team,) = view.shared_with_teams or []
    assert isinstance(team.decoration, models.ViewDecoration)
    assert team.decoration.emoji == {"native": "👋"}


def test_every_payload_fixture_is_listed_in_sources() -> None:
    listed = (PAYLOADS / "SOURCES.md").read_text()
    assert [p.name for p in sorted(PAYLOADS.glob("*.json")) if p.name not in listed] == []
