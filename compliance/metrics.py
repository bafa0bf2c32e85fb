"""``/metrics`` (Prometheus) for a scraper holding ``METRICS_TOKEN``, or a signed-in superuser.

``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time) or a superuser's
admin session; anyone else gets 404, as if there were nothing here. Without
``METRICS_TOKEN`` only superusers see the metrics.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django_prometheus import exports


def _bearer_token_matches(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:
        return False
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def metrics(request: HttpRequest) -> HttpResponse:
    user = getattr(request, "user", None)
    if _bearer_token_matches(request) or (user is not None and user.is_active and user.is_superuser):
        return exports.ExportToDjangoView(request)
    raise Http404("Not found.")
