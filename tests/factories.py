"""factory_boy factories for every model. Defaults describe a plain, valid world."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.db.models import F
from django.utils import timezone

from compliance.models import Finding, SecurityAttestation, SecurityRequirement
from licences.models import (
    AllocationRound,
    ChipModel,
    Company,
    CustomsDirective,
    CustomsEvent,
    ImportLicence,
    Shipment,
)
from licences.services import record_implied_decisions
from quotas.models import DomesticCommitment, QuotaPolicy
from quotas.services import record_implied_changes


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    """An aware datetime at ``hour`` o'clock (service time zone) on ``day``."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"company-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    category = Company.Category.INTERNET_PLATFORM


class ForeignChipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChipModel
        django_get_or_create = ("code",)

    code = "H200"
    name = "NVIDIA H200"
    vendor = "NVIDIA"
    origin = ChipModel.Origin.FOREIGN
    export_controlled = True
    compute_index = Decimal("6.000")
    reference_unit_value_usd = Decimal("32000.00")


class DomesticChipFactory(ForeignChipFactory):
    code = "ASCEND-910B"
    name = "Huawei Ascend 910B"
    vendor = "Huawei"
    origin = ChipModel.Origin.DOMESTIC
    export_controlled = False
    compute_index = Decimal("1.000")
    reference_unit_value_usd = Decimal("12000.00")


class AllocationRoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AllocationRound
        django_get_or_create = ("name",)

    name = "Wave 1"
    unit_cap = 400_000
    value_cap_usd = Decimal("10000000000.00")
    opens_on = dt.date(2026, 1, 23)
    closes_on = dt.date(2026, 12, 31)


class ImportLicenceFactory(factory.django.DjangoModelFactory):
    """An *applied* licence. Use ``licence_approve`` (or ``ApprovedLicenceFactory``) to grant.

    Written directly, it gets what the services would have left (``record_implied_decisions``):
    the decision ledger rows its timestamps imply (as migration ``licences.0008`` backfilled
    them), appended to its company's hash chain, so positions, which read the ledger, see it;
    and, decided, its grant counted in its round's totals, as ``licence_approve`` draws it.
    """

    class Meta:
        model = ImportLicence

    @classmethod
    def _create(cls, model_class: type[ImportLicence], *args: Any, **kwargs: Any) -> ImportLicence:
        licence = super()._create(model_class, *args, **kwargs)
        record_implied_decisions([licence])
        return licence

    number = factory.Sequence(lambda n: f"LIC-TEST-{n:05d}")
    company = factory.SubFactory(CompanyFactory)
    chip = factory.SubFactory(ForeignChipFactory)
    round = factory.SubFactory(AllocationRoundFactory)
    requested_quantity = 1000
    unit_value_usd = Decimal("32000.00")
    applied_at = factory.LazyFunction(lambda: at(dt.date(2026, 1, 10)))


class ApprovedLicenceFactory(ImportLicenceFactory):
    """An approved licence written directly (its grant counted in its round): for read-side tests."""

    status = ImportLicence.Status.APPROVED
    granted_quantity = factory.LazyAttribute(lambda o: o.requested_quantity)
    valid_from = dt.date(2026, 1, 23)
    valid_until = dt.date(2026, 12, 31)
    approved_at = factory.LazyFunction(lambda: at(dt.date(2026, 1, 23)))


class ShipmentFactory(factory.django.DjangoModelFactory):
    """A shipment written directly: for read-side tests.

    A cleared shipment adds its quantity to its licence's ``used_quantity``, as clearing does
    (the quota arithmetic reads cleared imports from that counter); ``reserved_quantity`` is
    left to the test.
    """

    class Meta:
        model = Shipment

    @classmethod
    def _create(cls, model_class: type[Shipment], *args: Any, **kwargs: Any) -> Shipment:
        shipment = super()._create(model_class, *args, **kwargs)
        if shipment.status == Shipment.Status.CLEARED:
            ImportLicence.objects.filter(pk=shipment.licence_id).update(
                used_quantity=F("used_quantity") + shipment.quantity
            )
            shipment.licence.used_quantity += shipment.quantity  # a later save() of it keeps the count
        return shipment

    declaration_number = factory.Sequence(lambda n: f"DEC-TEST-{n:06d}")
    licence = factory.SubFactory(ApprovedLicenceFactory)
    company = factory.SelfAttribute("licence.company")
    chip = factory.SelfAttribute("licence.chip")
    quantity = 100
    declared_value_usd = factory.LazyAttribute(lambda o: o.licence.unit_value_usd * o.quantity)
    port_of_entry = "Shanghai Pudong"
    declared_at = factory.LazyFunction(lambda: at(dt.date(2026, 2, 1)))
    status_changed_at = factory.SelfAttribute("declared_at")


class CustomsEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomsEvent

    shipment = factory.SubFactory(ShipmentFactory)
    status = Shipment.Status.DECLARED
    occurred_at = factory.SelfAttribute("shipment.declared_at")


class CustomsDirectiveFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomsDirective

    reference = factory.Sequence(lambda n: f"GACC-DIR-{n:04d}")
    chip = factory.SubFactory(ForeignChipFactory)
    blocked_from = dt.date(2026, 1, 1)
    blocked_until = dt.date(2026, 1, 22)
    reason = "H200 not permitted to enter pending licensing"


class QuotaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuotaPolicy

    name = factory.Sequence(lambda n: f"Domestic purchase rule {n}")
    version = 1
    ratio = Decimal("0.3000")
    basis = QuotaPolicy.Basis.UNITS
    measured_on = QuotaPolicy.MeasuredOn.LICENSED
    counts_pledged = False
    counts_contracted = True
    counts_delivered = True
    grace_days = 0
    effective_from = dt.date(2026, 1, 1)
    status = QuotaPolicy.Status.ACTIVE


class DomesticCommitmentFactory(factory.django.DjangoModelFactory):
    """A commitment written directly, with the change ledger rows its dates imply (each recorded
    at the start of its effective day), as migration ``quotas.0005`` backfilled them."""

    class Meta:
        model = DomesticCommitment

    @classmethod
    def _create(cls, model_class: type[DomesticCommitment], *args: Any, **kwargs: Any) -> DomesticCommitment:
        commitment = super()._create(model_class, *args, **kwargs)
        record_implied_changes([commitment])
        return commitment

    company = factory.SubFactory(CompanyFactory)
    chip = factory.SubFactory(DomesticChipFactory)
    quantity = 1000
    unit_price = Decimal("12000.00")
    currency = "USD"
    unit_price_usd = Decimal("12000.00")
    status = DomesticCommitment.Status.CONTRACTED
    pledged_on = dt.date(2026, 1, 15)
    contracted_on = dt.date(2026, 1, 20)
    due_date = dt.date(2026, 9, 30)


class SecurityRequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SecurityRequirement
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"requirement-{n}")
    title = factory.LazyAttribute(lambda o: o.code.replace("-", " ").capitalize())
    mandatory = True
    validity_days = 365
    scope = SecurityRequirement.Scope.COMPANY


class SecurityAttestationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SecurityAttestation

    company = factory.SubFactory(CompanyFactory)
    requirement = factory.SubFactory(SecurityRequirementFactory)
    status = SecurityAttestation.Status.ACCEPTED
    evidence_reference = "AUDIT-2026-001"
    attested_on = dt.date(2026, 1, 10)
    expires_on = dt.date(2027, 1, 10)


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    rule = "quota_shortfall"
    severity = Finding.Severity.HIGH
    company = factory.SubFactory(CompanyFactory)
    subject = factory.LazyAttribute(lambda o: f"company:{o.company.slug}")
    fingerprint = factory.LazyAttribute(lambda o: f"{o.rule}:{o.company.slug}:{o.subject}")
    summary = "Short of the domestic-purchase quota"
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.SelfAttribute("first_seen_at")


# --- People and credentials ---------------------------------------------------------------------


def staff_user(username: str, *, group: str | None = None, superuser: bool = False, active: bool = True) -> Any:
    """A staff user, in the Regulator or Analyst group (``compliance.groups``) or in none."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    model = get_user_model()
    if superuser:
        user = model.objects.create_superuser(username, password="pw-123456789", is_active=active)
    else:
        user = model.objects.create_user(username, password="pw-123456789", is_staff=True, is_active=active)
    if group is not None:
        if not Group.objects.filter(name=group).exists():  # a transactional test flushed the migration's groups
            from django.contrib.auth.models import Permission

            from compliance.groups import sync_groups

            sync_groups(group_model=Group, permission_model=Permission)
        user.groups.add(Group.objects.get(name=group))
    return user


def issue_api_key(
    *, kind: str = "company", company: Any = None, user: Any = None, name: str = "test key"
) -> tuple[Any, str]:
    """A fresh API key of ``kind`` (``company``, ``regulator`` or ``customs``): (row, secret).

    A regulator key without ``user`` belongs to a new Regulator-group user.
    """
    from compliance.groups import REGULATOR
    from compliance.models import CompanyAPIKey

    if kind == CompanyAPIKey.Kind.REGULATOR and user is None:
        count = CompanyAPIKey.objects.filter(kind=kind).count()
        user = staff_user(f"regulator-officer-{count + 1}", group=REGULATOR)
    return CompanyAPIKey.objects.create_key(name=name, kind=kind, company=company, user=user)
