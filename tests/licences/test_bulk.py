"""The bulk helpers' building blocks: ``one_of`` filters and the paused collector."""

from __future__ import annotations

import datetime as dt
import gc
import json
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import bulk, json_text
from licences.models import ImportLicence, Shipment
from tests.factories import ApprovedLicenceFactory, ShipmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipments() -> list[Shipment]:
    licence = ApprovedLicenceFactory(number="LIC-ONE-OF", requested_quantity=1_000)
    return [
        ShipmentFactory(declaration_number=f"DEC-ONE-OF-{index}", licence=licence, company=licence.company)
        for index in range(5)
    ]


def test_one_of_selects_exactly_the_rows_whose_value_is_listed(shipments: list[Shipment]) -> None:
    wanted = {"DEC-ONE-OF-1", "DEC-ONE-OF-3", "DEC-NOWHERE", "dec-one-of-4"}
    found = Shipment.objects.filter(bulk.one_of(Shipment, "declaration_number", wanted))
    assert sorted(found.values_list("declaration_number", flat=True)) == ["DEC-ONE-OF-1", "DEC-ONE-OF-3"]
    by_pk = Shipment.objects.filter(bulk.one_of(Shipment, "pk", [shipments[0].pk, shipments[4].pk, -1]))
    assert sorted(by_pk.values_list("pk", flat=True)) == [shipments[0].pk, shipments[4].pk]
    assert not Shipment.objects.filter(bulk.one_of(Shipment, "declaration_number", [])).exists()
    # Through a relation, combined with other conditions, as the batch services use it.
    scoped = Shipment.objects.filter(company=shipments[0].company).filter(
        bulk.one_of(Shipment, "licence__number", ["LIC-ONE-OF", "LIC-OTHER"])
    )
    assert scoped.count() == 5
    assert ImportLicence.objects.filter(bulk.one_of(ImportLicence, "number", ["LIC-ONE-OF"])).count() == 1


@pytest.mark.postgres
def test_one_of_is_one_array_parameter_on_postgresql_whatever_the_number_of_values(
    shipments: list[Shipment],
) -> None:
    numbers = [f"DEC-ONE-OF-{index}" for index in range(3_000)]
    with CaptureQueriesContext(connection) as queries:
        assert Shipment.objects.filter(bulk.one_of(Shipment, "declaration_number", numbers)).count() == 5
    (query,) = queries.captured_queries
    assert query["sql"].count("= ANY(") == 1
    assert len(query["sql"]) < 3_000 * 16  # one literal array, not a placeholder per value


def test_one_of_asks_for_an_unbroken_run_of_integers_as_a_range_and_selects_the_same_rows(
    shipments: list[Shipment],
) -> None:
    first = shipments[0].pk
    run = [*range(first - 10, first + 10), first]  # 20 consecutive ids (one repeated), the fixture's among them
    with CaptureQueriesContext(connection) as queries:
        found = sorted(Shipment.objects.filter(bulk.one_of(Shipment, "pk", run)).values_list("pk", flat=True))
    assert found == sorted(pk for pk in (s.pk for s in shipments) if first - 10 <= pk < first + 10)
    (query,) = queries.captured_queries
    assert '"id" >= ' in query["sql"] and '"id" <= ' in query["sql"]
    assert " IN (" not in query["sql"] and "ANY(" not in query["sql"]

    # A gap, too few values, or values that are not plain integers: asked for as a list.
    gapped = [pk for pk in range(first - 10, first + 11) if pk != shipments[2].pk]
    short = list(range(first, first + bulk.RUN_MIN_VALUES - 1))
    for values, expected in ((gapped, [s.pk for s in shipments if s.pk != shipments[2].pk]), (short, None)):
        with CaptureQueriesContext(connection) as queries:
            found = sorted(Shipment.objects.filter(bulk.one_of(Shipment, "pk", values)).values_list("pk", flat=True))
        assert found == (expected if expected is not None else [s.pk for s in shipments if s.pk in values])
        (query,) = queries.captured_queries
        assert '"id" >= ' not in query["sql"]
    assert bulk.integer_run([True, *range(2, 2 + bulk.RUN_MIN_VALUES)]) is None
    assert bulk.integer_run([str(value) for value in range(bulk.RUN_MIN_VALUES)]) is None
    assert bulk.integer_run(list(range(5, 5 + bulk.RUN_MIN_VALUES))[::-1]) == (5, 4 + bulk.RUN_MIN_VALUES)


def test_the_collector_is_paused_inside_and_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with bulk.collector_paused():
        assert not gc.isenabled()
        with bulk.collector_paused():  # nested: the outer pause stays in force
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), bulk.collector_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()
    gc.disable()
    try:
        with bulk.collector_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


@pytest.mark.parametrize("encoder", [json.JSONEncoder, DjangoJSONEncoder])
@pytest.mark.parametrize(
    "value",
    [
        {"shipment": "DEC-1", "days_left": 15, "ratio": 0.25, "ok": True, "none": None, "list": [1, "two", []]},
        {"名称": '华为 \u2028 "quoted" \\ back', "nested": {"b": 1, "a": 2}},
        "a bare string",
        12,
        [],
        float("nan"),
    ],
)
def test_the_json_of_a_copied_value_is_what_the_encoder_writes(encoder, value) -> None:
    assert json_text.dumper(encoder)(value) == encoder().encode(value)


def test_the_json_of_a_copied_value_uses_the_fields_encoder() -> None:
    moment = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    dumps = json_text.dumper(DjangoJSONEncoder)
    assert dumps({"amount": Decimal("1.50"), "at": moment}) == '{"amount": "1.50", "at": "2026-03-01T02:00:00Z"}'
    with pytest.raises(TypeError):
        json_text.dumper(json.JSONEncoder)({"amount": Decimal("1.50")})
