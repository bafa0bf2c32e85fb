"""``POST /api/v1/licences/backfill/``: the regulator's back-entry of paper-era licences (issue 14).

The API path beside ``manage.py backfill_licences``: the same service
(:func:`licences.services.backfill.backfill_licences`), the same rows, the same codes. The
body is either JSON (``{"rows": [...], "dry_run": false}``, each row an object of the
back-entry columns) or a multipart upload of a ``.csv`` / ``.json`` file in the field
``file`` (with an optional ``dry_run`` form field). ``?dry_run=true`` (or the body's flag)
validates and replays inside a transaction it rolls back: 200 with what would be written.

All or nothing: any bad row is 400 ``backfill_invalid`` with every error in ``rows``
(``row``, ``field``, ``code``, ``message``; row 1 is the first data row) and nothing is
written. A file that cannot be read is 400 ``backfill_bad_file``; a body or file over
``API_BACKFILL_MAX_BYTES`` is 413 ``request_too_large``, more than ``API_BACKFILL_MAX_ROWS``
rows 413 ``backfill_too_many_rows``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import StrictSerializer
from common.api.errors import ErrorEnvelopeSerializer, RequestTooLarge, envelope
from common.api.parsers import BackfillJSONParser, BoundedMultiPartParser
from common.errors import DomainError
from licences.services.backfill import BackfillRefused, BackfillReport, backfill_licences, read_file

# --- Input --------------------------------------------------------------------------------------


class BackfillRowSerializer(serializers.Serializer):
    """One paper-era licence (documentation: rows are validated by the back-entry service)."""

    company = serializers.CharField(help_text=_("The company's slug."))
    chip = serializers.CharField(help_text=_("The chip's code."))
    round = serializers.CharField(help_text=_("The allocation round's name."))
    number = serializers.CharField(max_length=64, help_text=_("The licence number (unique within the company)."))
    requested_quantity = serializers.IntegerField(min_value=1)
    unit_value_usd = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, help_text=_("Defaults to the chip's reference value.")
    )
    applied_on = serializers.DateField()
    approved_on = serializers.DateField(required=False, help_text=_("With granted_quantity, valid_from, valid_until."))
    granted_quantity = serializers.IntegerField(min_value=1, required=False)
    valid_from = serializers.DateField(required=False)
    valid_until = serializers.DateField(required=False)
    suspended_on = serializers.DateField(required=False)
    suspend_reason = serializers.CharField(required=False)
    reinstated_on = serializers.DateField(required=False)
    reinstate_reason = serializers.CharField(required=False)
    revoked_on = serializers.DateField(required=False)
    revoke_reason = serializers.CharField(required=False)
    reason = serializers.CharField(
        required=False,
        help_text=_('The late-entry reason of every decision (default "Back-entry of a paper-era record").'),
    )


class BackfillRequestSerializer(StrictSerializer):
    """A back-entry as JSON: the rows, and whether to write them or only report what would change."""

    rows = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        help_text=_("One object per licence, with the columns of manage.py backfill_licences."),
    )
    dry_run = serializers.BooleanField(default=False, help_text=_("Validate and report; write nothing."))


class BackfillRequestDocSerializer(BackfillRequestSerializer):
    """A back-entry as JSON (documented with the row's columns)."""

    rows = BackfillRowSerializer(many=True)  # type: ignore[assignment]

    class Meta:
        ref_name = "BackfillRequest"


class BackfillUploadSerializer(StrictSerializer):
    """A back-entry as a file: a ``.csv`` with a header row, or a ``.json`` list (or ``{"licences": [...]}``)."""

    file = serializers.FileField(max_length=200, help_text=_("A UTF-8 .csv (header row) or .json file."))
    dry_run = serializers.BooleanField(default=False, help_text=_("Validate and report; write nothing."))


# --- Output -------------------------------------------------------------------------------------


class BackfillEntrySerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row (1 is the first data row)."))
    company = serializers.CharField()
    number = serializers.CharField()
    decisions = serializers.ListField(
        child=serializers.CharField(), help_text=_('What was replayed, in order: "apply 2026-01-10", "approve ...".')
    )


class BackfillReportSerializer(serializers.Serializer):
    """What a back-entry wrote (201) or, in a dry run, would write (200)."""

    dry_run = serializers.BooleanField()
    licences = serializers.IntegerField(help_text=_("Licences created (or that would be)."))
    decisions = serializers.IntegerField(help_text=_("Applications and decisions replayed (or that would be)."))
    rows = BackfillEntrySerializer(many=True)


class BackfillErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row (1 is the first data row)."))
    field = serializers.CharField(allow_null=True, help_text=_("The column at fault; null for a whole-row error."))
    code = serializers.CharField(help_text=_("missing_field, invalid_date, unknown_round, duplicate_number, ..."))
    message = serializers.CharField()


class BackfillRefusalSerializer(ErrorEnvelopeSerializer):
    """400: the error envelope; for ``backfill_invalid``, every error of every row in ``rows``."""

    rows = BackfillErrorSerializer(many=True, required=False)

    class Meta:
        ref_name = "BackfillRefusal"


def report_body(report: BackfillReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "licences": report.licences,
        "decisions": report.decisions,
        "rows": [
            {"row": entry.row, "company": entry.company, "number": entry.number, "decisions": entry.decisions}
            for entry in report.entries
        ],
    }


DRY_RUN_PARAMETER = OpenApiParameter(
    "dry_run",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    description=_("Validate and report what would be written (200); write nothing. Same as the body's dry_run."),
)


BACKFILL_SCHEMA = extend_schema(
    operation_id="licences_backfill",
    request={
        "application/json": BackfillRequestDocSerializer,
        "multipart/form-data": BackfillUploadSerializer,
    },
    parameters=[DRY_RUN_PARAMETER],
    responses={201: BackfillReportSerializer, 200: BackfillReportSerializer, 400: BackfillRefusalSerializer},
)
#: The action's parsers: JSON up to ``API_BACKFILL_MAX_BYTES``, or a multipart upload.
BACKFILL_PARSERS = [BackfillJSONParser, BoundedMultiPartParser]


def backfill(view: Any, request: Request) -> Response:
    """The ``backfill`` action of the licence viewset (the regulator's only: ``api.permissions.MATRIX``)."""
    if request.content_type.startswith("multipart/"):
        upload = view.parse(BackfillUploadSerializer)
        limit = settings.API_BACKFILL_MAX_BYTES
        if upload["file"].size > limit:
            raise RequestTooLarge(gettext("The back-entry file exceeds %(limit)d bytes.") % {"limit": limit})
        rows = read_file(upload["file"].name, upload["file"].read())
        if not rows:
            raise DomainError(gettext("The back-entry file has no rows."), code="backfill_bad_file")
    else:
        upload = view.parse(BackfillRequestSerializer)
        rows = upload["rows"]
    if len(rows) > settings.API_BACKFILL_MAX_ROWS:
        raise DomainError(
            gettext("%(count)d rows: at most %(limit)d per request (larger loads: manage.py backfill_licences).")
            % {"count": len(rows), "limit": settings.API_BACKFILL_MAX_ROWS},
            code="backfill_too_many_rows",
            status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    dry_run = upload["dry_run"] or _query_dry_run(request)
    principal = view.principal
    try:
        report = backfill_licences(
            rows, dry_run=dry_run, actor=f"back-entry: {principal.label}", recorded_by=principal.user
        )
    except BackfillRefused as refused:
        body = envelope(refused.code, refused.message, refused.fields)
        body["rows"] = [error.as_dict() for error in refused.errors]
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return Response(report_body(report), status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED)


def _query_dry_run(request: Request) -> bool:
    raw = request.query_params.get("dry_run")
    if raw is None:
        return False
    try:
        return bool(serializers.BooleanField().run_validation(raw))
    except serializers.ValidationError as error:
        raise serializers.ValidationError({"dry_run": error.detail}) from error
