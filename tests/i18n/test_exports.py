"""Every column of every spreadsheet export has a header in each language."""

from __future__ import annotations

import pytest
from django.utils import translation

from cockpit.views import IMPACT_COLUMNS
from licences.resources import ImportLicenceResource, ShipmentResource
from quotas.resources import DomesticCommitmentResource

RESOURCES = [ImportLicenceResource, ShipmentResource, DomesticCommitmentResource]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda resource: resource.__name__)
def test_every_exported_column_has_a_label(resource):
    assert set(resource._meta.fields) == set(resource.column_labels)


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda resource: resource.__name__)
def test_english_headers_are_the_column_keys_chinese_ones_are_chinese(resource):
    with translation.override("en"):
        assert resource().get_export_headers() == list(resource._meta.export_order)
    with translation.override("zh-hans"):
        headers = resource().get_export_headers()
    assert all(any("\u4e00" <= char <= "\u9fff" for char in header) for header in headers), headers


def test_policy_impact_columns_in_both_languages():
    with translation.override("en"):
        assert [str(label) for label in IMPACT_COLUMNS.values()] == list(IMPACT_COLUMNS)
    with translation.override("zh-hans"):
        assert all(any("\u4e00" <= char <= "\u9fff" for char in str(label)) for label in IMPACT_COLUMNS.values())
