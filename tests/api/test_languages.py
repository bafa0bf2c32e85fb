"""The API in two languages: the human ``detail`` and field messages follow ``Accept-Language``
(English by default and for a language the service does not speak); the status, the ``code``,
the field names and enum values never change."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from compliance.models import Finding
from tests.api.conftest import API, World, client_for

pytestmark = pytest.mark.django_db


def answer(client, method: str, path: str, language: str | None, data: Any = None) -> tuple[int, dict[str, Any]]:
    headers = {} if language is None else {"HTTP_ACCEPT_LANGUAGE": language}
    response = getattr(client, method)(path, data, format="json", **headers)
    return response.status_code, response.json()


def test_a_validation_error_on_a_write_in_english_and_chinese(world: World) -> None:
    path = f"{API}/findings/{world.finding_a.pk}/resolve/"
    regulator = world.client("regulator")
    english = answer(regulator, "post", path, "en", {})
    chinese = answer(regulator, "post", path, "zh-hans", {})
    assert english == (
        400,
        {
            "code": "validation_error",
            "detail": "Invalid input: note: This field is required.",
            "errors": {"note": ["This field is required."]},
        },
    )
    assert chinese == (
        400,
        {
            "code": "validation_error",
            "detail": "输入无效：note：该字段是必填项。",
            "errors": {"note": ["该字段是必填项。"]},
        },
    )
    assert Finding.objects.get(pk=world.finding_a.pk).status == Finding.Status.OPEN


def test_several_invalid_fields_are_counted_in_each_language(world: World) -> None:
    company = world.client("a")
    body = {"secret": "s" * 32}
    english = answer(company, "post", f"{API}/webhooks/", "en", body)
    chinese = answer(company, "post", f"{API}/webhooks/", "zh-hans", body)
    assert english == (
        400,
        {
            "code": "validation_error",
            "detail": "Invalid input: name: This field is required. (and 1 more field)",
            "errors": {"name": ["This field is required."], "url": ["This field is required."]},
        },
    )
    assert chinese == (
        400,
        {
            "code": "validation_error",
            "detail": "输入无效：name：该字段是必填项。（另有 1 个字段有误）",
            "errors": {"name": ["该字段是必填项。"], "url": ["该字段是必填项。"]},
        },
    )
    assert answer(company, "post", f"{API}/webhooks/", "en", {})[1]["detail"] == (
        "Invalid input: name: This field is required. (and 2 more fields)"
    )
    assert answer(company, "post", f"{API}/webhooks/", "zh-hans", {})[1]["detail"] == (
        "输入无效：name：该字段是必填项。（另有 2 个字段有误）"
    )


def test_a_refused_transition_in_english_and_chinese(world: World) -> None:
    path = f"{API}/findings/{world.finding_a.pk}/acknowledge/"
    company = world.client("a")
    assert answer(company, "post", path, None)[0] == 200
    english = answer(company, "post", path, "en")
    chinese = answer(company, "post", path, "zh-hans")
    assert english == (
        409,
        {
            "code": "invalid_transition",
            "detail": "This finding is acknowledged; only open findings can be acknowledged.",
            "errors": {},
        },
    )
    assert chinese == (
        409,
        {"code": "invalid_transition", "detail": "该合规事项已确认；只有未处理的合规事项可以确认。", "errors": {}},
    )


def test_a_403_and_a_404_in_english_and_chinese(world: World) -> None:
    company = world.client("a")
    resolve = f"{API}/findings/{world.finding_a.pk}/resolve/"
    assert answer(company, "post", resolve, "en", {"note": "done"}) == (
        403,
        {"code": "permission_denied", "detail": "You do not have permission to perform this action.", "errors": {}},
    )
    assert answer(company, "post", resolve, "zh-hans", {"note": "done"}) == (
        403,
        {"code": "permission_denied", "detail": "您没有执行该操作的权限。", "errors": {}},
    )
    other = f"{API}/findings/{world.finding_b.pk}/"
    assert answer(company, "get", other, "en") == (404, {"code": "not_found", "detail": "Not found.", "errors": {}})
    assert answer(company, "get", other, "zh-hans") == (404, {"code": "not_found", "detail": "未找到。", "errors": {}})


def test_a_401_in_english_and_chinese() -> None:
    anonymous = client_for("not-a-key")
    english = answer(anonymous, "get", f"{API}/findings/", "en")
    chinese = answer(anonymous, "get", f"{API}/findings/", "zh-hans")
    assert english[1]["detail"] == "Invalid, revoked or expired API key."
    assert chinese[1]["detail"] == "API 密钥无效、已撤销或已过期。"
    assert (english[0], english[1]["code"]) == (chinese[0], chinese[1]["code"]) == (401, "authentication_failed")


@pytest.mark.parametrize("language", [None, "", "fr", "de-DE,fr;q=0.8", "xx-unknown", "*"])
def test_an_unknown_or_missing_language_falls_back_to_english(world: World, language: str | None) -> None:
    status, body = answer(world.client("a"), "get", f"{API}/findings/{world.finding_b.pk}/", language)
    assert (status, body["detail"]) == (404, "Not found.")


@pytest.mark.parametrize("language", ["zh-hans", "zh-Hans", "zh-CN", "zh", "fr;q=0.9, zh-CN;q=1.0"])
def test_the_ways_of_asking_for_simplified_chinese(world: World, language: str) -> None:
    status, body = answer(world.client("a"), "get", f"{API}/findings/{world.finding_b.pk}/", language)
    assert (status, body["detail"]) == (404, "未找到。")


def test_enum_values_and_field_names_do_not_change_with_the_language(world: World) -> None:
    path = f"{API}/findings/{world.finding_a.pk}/"
    english = answer(world.client("a"), "get", path, "en")
    chinese = answer(world.client("a"), "get", path, "zh-hans")
    assert english == chinese
    assert (english[1]["status"], english[1]["severity"]) == ("open", world.finding_a.severity)


def test_the_schema_documents_accept_language(tmp_path) -> None:
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target), "--validate", "--fail-on-warn")
    schema = yaml.safe_load(target.read_text())
    assert "`detail` and the field messages follow `Accept-Language`" in schema["info"]["description"]
    assert "`code`, field names and enum values never change" in schema["info"]["description"]
    operations = [
        operation
        for path in schema["paths"].values()
        for method, operation in path.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 40
    for operation in operations:
        [header] = [p for p in operation["parameters"] if p["in"] == "header" and p["name"] == "Accept-Language"]
        assert header.get("required", False) is False
        assert "never change with the language" in header["description"]
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]["properties"]
    assert "the same in every language" in envelope["code"]["description"]
    assert "Accept-Language" in envelope["detail"]["description"]


def test_a_webhook_subscription_chooses_the_language_of_its_summaries(world: World) -> None:
    company = world.client("a")
    body = {"name": "erp", "url": "https://hooks.example.com/erp", "secret": "s" * 32}
    status, created = answer(company, "post", f"{API}/webhooks/", None, body)
    assert (status, created["language"]) == (201, "zh-hans")  # the model's default
    status, changed = answer(company, "patch", f"{API}/webhooks/{created['id']}/", None, {"language": "en"})
    assert (status, changed["language"]) == (200, "en")
    status, refused = answer(company, "patch", f"{API}/webhooks/{created['id']}/", "zh-hans", {"language": "fr"})
    assert (status, refused["code"], refused["errors"]) == (
        400,
        "validation_error",
        {"language": ["“fr” 不是合法选项。"]},
    )


def test_the_schema_itself_reads_in_the_asked_language(client) -> None:
    def envelope_code(language: str) -> str:
        response = client.get("/api/schema/", {"format": "json"}, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        schema = json.loads(response.content)
        return schema["components"]["schemas"]["ErrorEnvelope"]["properties"]["code"]["description"]

    assert envelope_code("en") == (
        "Stable machine-readable error code, e.g. licence_exhausted; the same in every language."
    )
    assert envelope_code("zh-hans") == "稳定的机器可读错误代码，例如 licence_exhausted；在任何语言下都相同。"
