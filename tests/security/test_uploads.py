"""Review finding 10 (uploads): multipart bodies had no size cap, and evidence files were typed
by their name and declared type alone (an ``MZ`` executable passed as ``.pdf``)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from compliance.filetypes import sniff
from compliance.models import SecurityAttestation
from tests.api import conftest as api_fixtures

pytestmark = pytest.mark.django_db

world = api_fixtures.world
ATTESTATIONS = "/api/v1/attestations/"
ATTEST = {"requirement": "end-user-verification", "attested_on": "2026-02-01"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32


def submit(world, name: str, content: bytes, content_type: str):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    return world.client("a").post(ATTESTATIONS, {**ATTEST, "evidence_file": upload}, format="multipart")


@pytest.mark.parametrize(
    ("name", "content", "content_type", "described"),
    [
        ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "application/pdf", "a Windows executable"),
        ("photo.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "image/png", "an ELF executable"),
        ("scan.jpg", b"%PDF-1.7 not a jpeg", "image/jpeg", "an unrecognised format"),
        ("notes.txt", b"MZ\x90\x00", "text/plain", "a Windows executable"),
        ("notes.txt", b"plain\x00text", "text/plain", "an unrecognised format"),
        ("report.pdf", PNG, "application/pdf", "an unrecognised format"),
    ],
)
def test_evidence_whose_content_is_not_what_it_is_named_is_refused(world, name, content, content_type, described):
    before = SecurityAttestation.objects.count()
    response = submit(world, name, content, content_type)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "evidence_content_mismatch"
    assert list(body["errors"]) == ["evidence_file"]
    assert described in body["detail"]
    assert SecurityAttestation.objects.count() == before


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("audit.pdf", b"%PDF-1.7\n%binary\n", "application/pdf"),
        ("stamp.png", PNG, "image/png"),
        ("scan.jpeg", JPEG, "image/jpeg"),
        ("notes.txt", "Audit passed: Ünïcode fine.\n".encode(), "text/plain"),
    ],
)
def test_evidence_of_each_accepted_type_is_stored(world, name, content, content_type):
    response = submit(world, name, content, content_type)
    assert response.status_code == 201, response.content
    assert SecurityAttestation.objects.get(pk=response.json()["id"]).evidence_file.read() == content


def test_an_evidence_file_over_the_configured_cap_is_refused(world, settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    response = submit(world, "audit.pdf", b"%PDF-1.7" + b"x" * 1024, "application/pdf")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert list(response.json()["errors"]) == ["evidence_file"]


def test_a_multipart_body_over_the_cap_is_a_413_before_it_is_parsed(world, settings):
    settings.API_MULTIPART_MAX_BYTES = 64 * 1024
    before = SecurityAttestation.objects.count()
    response = submit(world, "audit.pdf", b"%PDF-1.7" + b"x" * (64 * 1024), "application/pdf")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert SecurityAttestation.objects.count() == before


def test_upload_settings_are_bounded() -> None:
    from django.conf import settings

    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == 2621440
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 5
    assert settings.EVIDENCE_MAX_BYTES < settings.API_MULTIPART_MAX_BYTES


def test_sniffing_reads_the_first_bytes_only() -> None:
    assert [sniff(head) for head in (b"%PDF-1.4", PNG, JPEG, b"hello\n", b"MZ", b"PK\x03\x04", b"\xff\xfe")] == [
        "pdf",
        "png",
        "jpeg",
        "text",
        None,
        None,
        None,
    ]
    # A multi-byte character cut by the 8 KiB head is still text.
    assert sniff("é".encode() * 4096 + b"\xc3") == "text"
