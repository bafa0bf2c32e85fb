"""An attestation's evidence file, downloaded by whoever reads the attestation (``GET
/attestations/{id}/evidence/``, and a link on the admin's attestation page): its company, the
regulator, analysts. Before, the file was stored and then served by nothing: the regulator
reviewing an attestation could not open what it was asked to judge.

The file goes out as an attachment of the type its extension was checked against at upload
(never rendered inline: an evidence file is the company's content, not the service's page), and
is not kept in caches. Another company's key gets the attestation's 404, customs a 403; an
attestation whose evidence is a reference only, or whose file is gone from storage, is a 404 with
its own code."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from compliance.groups import ANALYST
from compliance.models import SecurityAttestation
from tests.api.conftest import API, World
from tests.factories import staff_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n%audit of end-user verification\n"


@pytest.fixture
def analyst_client(db) -> Client:
    client = Client()
    client.force_login(staff_user("analyst-1", group=ANALYST))
    return client


def with_file(attestation: SecurityAttestation, name: str = "audit.pdf", content: bytes = PDF) -> SecurityAttestation:
    attestation.evidence_file.save(name, ContentFile(content), save=True)
    return attestation


def evidence_url(attestation: SecurityAttestation) -> str:
    return f"{API}/attestations/{attestation.pk}/evidence/"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("role", ["a", "regulator"])
def test_the_company_and_the_regulator_download_the_file_as_an_attachment(world: World, role: str) -> None:
    attestation = with_file(world.attestation_a)
    response = world.client(role).get(evidence_url(attestation))
    assert response.status_code == 200
    assert body(response) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="audit.pdf"'
    assert response["Content-Length"] == str(len(PDF))
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [("stamp.png", b"\x89PNG\r\n\x1a\n", "image/png"), ("scan.jpeg", b"\xff\xd8\xff\xe0", "image/jpeg"),
     ("notes.txt", b"Audit passed.\n", "text/plain")],
)  # fmt: skip
def test_each_type_is_served_as_the_type_it_was_checked_against(world, name, content, content_type) -> None:
    response = world.client("a").get(evidence_url(with_file(world.attestation_a, name, content)))
    assert (response.status_code, response["Content-Type"], body(response)) == (200, content_type, content)


def test_a_file_of_an_unexpected_extension_is_served_as_plain_bytes(world: World) -> None:
    # Stored before the upload checks, or by hand: never given a type a browser would render.
    response = world.client("a").get(evidence_url(with_file(world.attestation_a, "page.html", b"<script>")))
    assert (response.status_code, response["Content-Type"]) == (200, "application/octet-stream")
    assert response["Content-Disposition"] == 'attachment; filename="page.html"'


@pytest.mark.parametrize(("role", "status", "code"), [("b", 404, "not_found"), ("customs", 403, "permission_denied")])
def test_another_company_and_customs_do_not_download_it(world: World, role: str, status: int, code: str) -> None:
    response = world.client(role).get(evidence_url(with_file(world.attestation_a)))
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_an_attestation_with_a_reference_only_has_no_file_to_download(world: World) -> None:
    response = world.client("a").get(evidence_url(world.attestation_a))
    assert response.status_code == 404
    assert response.json() == {
        "code": "no_evidence_file",
        "detail": f"Attestation {world.attestation_a.pk} has no evidence file; its evidence is the reference "
        "AUDIT-2026-001.",
        "errors": {},
    }


def test_a_file_gone_from_storage_is_a_404_not_a_500(world: World) -> None:
    attestation = with_file(world.attestation_a)
    attestation.evidence_file.storage.delete(attestation.evidence_file.name)
    response = world.client("regulator").get(evidence_url(attestation))
    assert (response.status_code, response.json()["code"]) == (404, "evidence_file_missing")


def test_the_admin_links_the_file_and_serves_it_to_analysts(world: World, analyst_client) -> None:
    attestation = with_file(world.attestation_a)
    download = reverse("admin:compliance_securityattestation_evidence", args=[attestation.pk])
    page = analyst_client.get(reverse("admin:compliance_securityattestation_change", args=[attestation.pk]))
    assert page.status_code == 200
    assert f'<a href="{download}">audit.pdf</a>' in page.content.decode()
    response = analyst_client.get(download)
    assert (response.status_code, response["Content-Type"], body(response)) == (200, "application/pdf", PDF)
    assert response["Content-Disposition"] == 'attachment; filename="audit.pdf"'


def test_the_admin_shows_no_link_for_a_reference_and_answers_a_missing_file_with_a_message(
    world: World, analyst_client
) -> None:
    change = reverse("admin:compliance_securityattestation_change", args=[world.attestation_a.pk])
    download = reverse("admin:compliance_securityattestation_evidence", args=[world.attestation_a.pk])
    assert download not in analyst_client.get(change).content.decode()
    response = analyst_client.get(download, follow=True)
    assert response.redirect_chain == [(change, 302)]
    assert "has no evidence file" in response.content.decode()


def test_the_admin_download_needs_a_staff_login(world: World, client) -> None:
    attestation = with_file(world.attestation_a)
    response = client.get(reverse("admin:compliance_securityattestation_evidence", args=[attestation.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
