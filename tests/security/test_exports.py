"""Review finding 4: CSV formula injection. Company-controlled text (a port of entry, a
contract reference, notes, a company name) reached the regulator's spreadsheet raw, so
``=HYPERLINK("http://x","y")`` became a live formula. Every admin export (CSV and XLSX,
through django-import-export) and the policy-impact download now neutralise such cells.
"""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
import tablib
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse

from compliance.models import Finding
from licences.exports import SafeCSV, SafeXLSX, neutralise
from licences.models import Company, ImportLicence, Shipment
from quotas.models import DomesticCommitment
from tests.admin_exports import export_response, export_rows
from tests.factories import (
    ApprovedLicenceFactory,
    CompanyFactory,
    DomesticCommitmentFactory,
    FindingFactory,
    ShipmentFactory,
)

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://x","y")'
SAFE = "'" + FORMULA


@pytest.fixture
def staff(django_user_model):
    """``staff(*codenames)``: a logged-in staff client holding exactly those permissions."""

    def make(*codenames: str) -> Client:
        username = "staff-" + "-".join(codenames)
        user = django_user_model.objects.create_user(username, "s@example.com", "pw", is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def hostile():
    """A company whose every free-text field is a formula."""
    company = CompanyFactory(slug="evil", name=FORMULA)
    licence = ApprovedLicenceFactory(company=company, status_reason="@SUM(1+1)*cmd|' /C calc'!A0")
    shipment = ShipmentFactory(licence=licence, port_of_entry=FORMULA)
    commitment = DomesticCommitmentFactory(company=company, contract_reference=FORMULA)
    finding = FindingFactory(company=company, summary="+1+cmd|' /C calc'!A0", resolution_note="-2+3")
    return company, licence, shipment, commitment, finding


# --- The rule ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FORMULA, SAFE),
        ("==1+1", "'==1+1"),  # the library's own setting would leave "=1+1", still a formula
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-5", "-5"),  # a plain number stays a number
        ("+3.25", "+3.25"),
        ("Shanghai Pudong", "Shanghai Pudong"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_a_cell_that_would_run_as_a_formula_is_neutralised(text, expected):
    assert neutralise(text) == expected


def test_numbers_dates_and_booleans_pass_untouched():
    from decimal import Decimal

    assert [neutralise(value) for value in (-5, Decimal("-1.5"), True, None)] == [-5, Decimal("-1.5"), True, None]


def test_the_formats_neutralise_every_cell_headers_included():
    dataset = tablib.Dataset(headers=["=h", "n"])
    dataset.append([FORMULA, 7])
    assert SafeCSV().export_data(dataset).splitlines() == ["'=h,n", '"\'=HYPERLINK(""http://x"",""y"")",7']
    sheet = openpyxl.load_workbook(io.BytesIO(SafeXLSX().export_data(dataset))).active
    assert [(cell.value, cell.data_type) for cell in sheet[2]] == [(SAFE, "s"), (7, "n")]


# --- Admin exports -------------------------------------------------------------------------------------


CASES = [
    ("licences_importlicence", ImportLicence, {"company__name": SAFE, "status_reason": "'@SUM(1+1)*cmd|' /C calc'!A0"}),
    ("licences_shipment", Shipment, {"port_of_entry": SAFE}),
    ("quotas_domesticcommitment", DomesticCommitment, {"company__name": SAFE, "contract_reference": SAFE}),
    ("compliance_finding", Finding, {"company__name": SAFE, "summary": "'+1+cmd|' /C calc'!A0",
                                     "resolution_note": "'-2+3"}),
]  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(("model", "model_class", "expected"), CASES, ids=[case[0] for case in CASES])
def test_company_text_comes_out_neutralised(admin_client, hostile, fmt, model, model_class, expected):
    [row] = export_rows(admin_client, model, model_class.objects.values_list("pk", flat=True), fmt)
    if fmt == "csv":
        assert {column: row[column] for column in expected} == expected
    else:
        assert {column: row[column].value for column in expected} == expected
        assert {row[column].data_type for column in expected} == {"s"}  # text, never "f" (formula)


def test_xlsx_keeps_numbers_as_numbers(admin_client, hostile):
    _company, licence, *_ = hostile
    [row] = export_rows(admin_client, "licences_importlicence", [licence.pk], "xlsx")
    assert (row["granted_quantity"].value, row["granted_quantity"].data_type) == (licence.granted_quantity, "n")
    assert row["number"].value == licence.number


def test_the_raw_formula_appears_nowhere_in_any_export(admin_client, hostile):
    for model, model_class, _expected in CASES:
        pks = model_class.objects.values_list("pk", flat=True)
        csv_body = export_response(admin_client, model, pks, "csv").content.decode()
        for cells in csv.reader(io.StringIO(csv_body)):
            assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells), (model, cells)
        sheet = openpyxl.load_workbook(io.BytesIO(export_response(admin_client, model, pks, "xlsx").content)).active
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row), model


# --- Who may export ------------------------------------------------------------------------------------


def test_export_needs_the_view_permission_of_the_model(staff, hostile):
    _company, licence, *_ = hostile
    export_url = reverse("admin:licences_importlicence_export")
    outsider = staff("view_shipment")  # staff, but may not see licences
    assert outsider.get(export_url).status_code == 403
    assert outsider.post(export_url, {"format": "0", "resource": "0"}).status_code == 403
    viewer = staff("view_importlicence")
    assert viewer.get(export_url).status_code == 200
    [row] = export_rows(viewer, "licences_importlicence", [licence.pk], "csv")
    assert row["number"] == licence.number


def test_an_export_holds_only_the_selected_rows(admin_client, hostile):
    other = ApprovedLicenceFactory(company=CompanyFactory(slug="other"))
    rows = export_rows(admin_client, "licences_importlicence", [other.pk], "csv")
    assert [row["number"] for row in rows] == [other.number]
    assert ImportLicence.objects.count() == 2


def test_there_is_no_import(admin_client, hostile):
    with pytest.raises(NoReverseMatch):
        reverse("admin:licences_importlicence_import")
    page = admin_client.get(reverse("admin:licences_importlicence_changelist")).content.decode()
    assert 'value="export_admin_action"' in page
    assert "import/" not in page


# --- The policy-impact download --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_policy_impact_download_neutralises_company_names(admin_client, demo_day, fmt):
    call_command("load_demo", verbosity=0)
    Company.objects.filter(slug="deepseek").update(name=FORMULA)
    response = admin_client.get(reverse("cockpit:policy-impact"), {"format": fmt})
    assert response.status_code == 200
    if fmt == "csv":
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        names = {row["slug"]: row["company"] for row in rows}
    else:
        assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        header, *cells = list(sheet.iter_rows())
        columns = [cell.value for cell in header]
        names = {row[columns.index("slug")].value: row[columns.index("company")].value for row in cells}
        assert all(cell.data_type != "f" for row in cells for cell in row)
    assert names["deepseek"] == SAFE
    assert names["alibaba"] == "Alibaba Group"
