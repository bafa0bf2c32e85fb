"""Who may call which action: one table, one permission class.

:data:`MATRIX` maps ``(resource, action)`` to the principals allowed to call it. The resource
is the viewset's router basename (``api.urls``), the action DRF's (``list``,
``retrieve``, ``create``, ``partial_update``, ``destroy``, or an ``@action``'s name). Anything
not in the table is refused (fail closed); ``tests/security/test_permission_matrix.py`` walks
every endpoint with every principal and checks the table is complete.

It follows the "who asserts what" table of the domain (``docs/domain.md``; in detail,
``docs/principals.md``):

- the **regulator** asserts rounds, policies, the requirement catalogue, companies and chips,
  decides licences and attestation reviews, resolves findings, reads everything;
- an **analyst** reads everything and decides nothing;
- **customs** records customs events (the only author of inspecting, held, cleared and
  rejected: a release of a held shipment is a customs act) and entry-block directives, and
  reads the shipments (every company's), the chip catalogue and the directives;
- a **company** applies, declares, records its commitments and attestations, acknowledges its
  own findings, manages its own webhooks, and reads its own records (tenant scoping:
  :meth:`api.base.ApiViewSetMixin.scoped`; another company's record is 404).

A company key posting a customs event gets 403 ``customs_outcome_forbidden`` (single and
batch: the whole batch is refused, nothing of it is read or written).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from api.principal import ANALYST, COMPANY, CUSTOMS, REGULATOR, principal_of

R, A, C, P = REGULATOR, ANALYST, CUSTOMS, COMPANY
EVERYONE = frozenset({R, A, C, P})
READERS = frozenset({R, A, P})  # company records: the company reads its own, the authority all
ONLY_REGULATOR = frozenset({R})
ONLY_COMPANY = frozenset({P})
ONLY_CUSTOMS = frozenset({C})

#: (resource, action) -> the principals that may call it.
MATRIX: dict[tuple[str, str], frozenset[str]] = {
    ("api-root", "list"): EVERYONE,
    # Companies: the regulator registers them; a company reads itself.
    ("company", "list"): READERS,
    ("company", "retrieve"): READERS,
    ("company", "create"): ONLY_REGULATOR,
    ("company-quota", "quota"): READERS,
    ("company-quota", "what_if"): READERS,  # a study: writes nothing
    ("company-compliance", "compliance"): READERS,
    # Catalogue and rounds.
    ("chip", "list"): EVERYONE,
    ("chip", "retrieve"): EVERYONE,
    ("chip", "create"): ONLY_REGULATOR,
    ("round", "list"): READERS,
    ("round", "retrieve"): READERS,
    ("round", "create"): ONLY_REGULATOR,
    # Licences: the company applies, the regulator decides.
    ("licence", "list"): READERS,
    ("licence", "retrieve"): READERS,
    ("licence", "decisions"): READERS,  # the licence's decision ledger, read as the licence is
    ("licence", "create"): ONLY_COMPANY,
    ("licence", "approve"): ONLY_REGULATOR,
    ("licence", "reject"): ONLY_REGULATOR,
    ("licence", "suspend"): ONLY_REGULATOR,
    ("licence", "reinstate"): ONLY_REGULATOR,
    ("licence", "revoke"): ONLY_REGULATOR,
    ("licence", "backfill"): ONLY_REGULATOR,  # back-entry of paper-era licences
    # Shipments: the company declares, customs records what happened at the border.
    ("shipment", "list"): EVERYONE,
    ("shipment", "retrieve"): EVERYONE,
    ("shipment", "create"): ONLY_COMPANY,
    ("shipment", "batch"): ONLY_COMPANY,
    ("shipment", "events"): ONLY_CUSTOMS,
    ("customs-event", "batch"): ONLY_CUSTOMS,
    # Entry-block directives: customs issues and lifts them; everyone else may read them.
    ("customs-directive", "list"): EVERYONE,
    ("customs-directive", "retrieve"): EVERYONE,
    ("customs-directive", "create"): ONLY_CUSTOMS,
    ("customs-directive", "lift"): ONLY_CUSTOMS,
    # Domestic commitments: the company's own assertions.
    ("commitment", "list"): READERS,
    ("commitment", "retrieve"): READERS,
    ("commitment", "changes"): READERS,  # the commitment's change ledger, read as the commitment is
    ("commitment", "create"): ONLY_COMPANY,
    ("commitment", "contract"): ONLY_COMPANY,
    ("commitment", "deliver"): ONLY_COMPANY,
    ("commitment", "cancel"): ONLY_COMPANY,
    # Quota policies: the regulator's; an analyst may read the impact study too.
    ("policy", "list"): READERS,
    ("policy", "retrieve"): READERS,
    ("policy", "create"): ONLY_REGULATOR,
    ("policy", "activate"): ONLY_REGULATOR,
    ("policy", "impact"): frozenset({R, A}),
    # US security conditions.
    ("security-requirement", "list"): READERS,
    ("security-requirement", "retrieve"): READERS,
    ("security-requirement", "create"): ONLY_REGULATOR,
    ("attestation", "list"): READERS,
    ("attestation", "retrieve"): READERS,
    ("attestation", "create"): ONLY_COMPANY,
    ("attestation", "review"): ONLY_REGULATOR,
    ("attestation", "evidence"): READERS,  # the file, read as the attestation is
    ("attestation", "reviews"): READERS,  # its review ledger, read as the attestation is
    # Findings: a company acknowledges its own; resolving by hand is the regulator's.
    ("finding", "list"): READERS,
    ("finding", "retrieve"): READERS,
    ("finding", "transitions"): READERS,  # the finding's transition ledger, read as the finding is
    ("finding", "acknowledge"): ONLY_COMPANY,
    ("finding", "resolve"): ONLY_REGULATOR,
    # Webhooks: a company manages its own, the regulator any (a null company: every company's).
    # Analysts do not see them (as in the admin): a subscription is a delivery channel.
    ("webhook", "list"): frozenset({R, P}),
    ("webhook", "retrieve"): frozenset({R, P}),
    ("webhook", "create"): frozenset({R, P}),
    ("webhook", "partial_update"): frozenset({R, P}),
    ("webhook", "destroy"): frozenset({R, P}),
}

#: Actions a company is refused with a code of their own rather than ``permission_denied``.
CUSTOMS_OUTCOME_FORBIDDEN = (
    "customs_outcome_forbidden",
    gettext_noop(
        "Customs outcomes (inspecting, held, cleared, rejected) are recorded by the customs authority, "
        "never by the importing company."
    ),
)
COMPANY_REFUSALS: dict[tuple[str, str], tuple[str, str]] = {
    ("shipment", "events"): CUSTOMS_OUTCOME_FORBIDDEN,
    ("customs-event", "batch"): CUSTOMS_OUTCOME_FORBIDDEN,
}


def resource_of(view: Any) -> str:
    """The view's row in the matrix: its router basename (the API root has none)."""
    return getattr(view, "basename", None) or "api-root"


def action_of(request: Any, view: Any) -> str | None:
    """The view's action; ``metadata`` for OPTIONS, ``list`` for the API root's GET."""
    if request.method == "OPTIONS":
        return "metadata"
    action = getattr(view, "action", None)
    if action is None and resource_of(view) == "api-root":
        return "list"
    return action


def allowed(kind: str, resource: str, action: str | None) -> bool:
    """May a ``kind`` principal call ``action`` on ``resource``? OPTIONS: any principal."""
    if action == "metadata":
        return True
    return kind in MATRIX.get((resource, action or ""), frozenset())


class MatrixPermission(permissions.BasePermission):
    """The one permission class of ``/api/v1/``: :data:`MATRIX`, applied to the request's principal.

    No principal: 401 (no credentials) or 403 (a staff session with no rights in the domain).
    """

    message: Any = _("You do not have permission to perform this action.")
    code = "permission_denied"

    def has_permission(self, request: Any, view: Any) -> bool:
        principal = principal_of(request)
        if principal is None:
            return False
        resource, action = resource_of(view), action_of(request, view)
        if allowed(principal.kind, resource, action):
            return True
        if principal.kind == COMPANY and (resource, action) in COMPANY_REFUSALS:
            self.code, message = COMPANY_REFUSALS[(resource, action)]
            self.message = gettext(message)
        return False
