"""An attestation's evidence file, served to whoever may read the attestation (the API's
``GET /attestations/{id}/evidence/`` and the admin's link call this; each checks its own
permissions first).

The file is the company's content, not the service's page: it goes out as an attachment, as
the type its extension was checked against at upload (``filetypes.EVIDENCE_TYPES``), or as
plain bytes for any other name, and is not kept in shared caches.
"""

from __future__ import annotations

import os

from django.http import FileResponse
from django.utils.translation import gettext

from common.errors import NotFound
from compliance.filetypes import EVIDENCE_TYPES
from compliance.models import SecurityAttestation


def evidence_response(attestation: SecurityAttestation) -> FileResponse:
    """The attestation's evidence file as a download; ``NotFound`` (``no_evidence_file``,
    ``evidence_file_missing``) when it has none or storage has lost it."""
    stored = attestation.evidence_file
    if not stored:
        raise NotFound(
            gettext("Attestation %(id)s has no evidence file; its evidence is the reference %(reference)s.")
            % {"id": attestation.pk, "reference": attestation.evidence_reference},
            code="no_evidence_file",
        )
    name = str(stored.name)  # set: the field is not empty
    try:
        handle = stored.storage.open(name, "rb")
    except FileNotFoundError:
        raise NotFound(
            gettext("The evidence file of attestation %(id)s is missing from storage.") % {"id": attestation.pk},
            code="evidence_file_missing",
        ) from None
    filename = os.path.basename(name)
    checked = EVIDENCE_TYPES.get(os.path.splitext(filename)[1].lower())
    content_type = checked[0] if checked else "application/octet-stream"
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    return response
