"""Admin machinery shared by every app: decisions with a confirmation step, refusals as
messages and a guard on history reverts (spreadsheet exports: :mod:`licences.exports`).

It lives in the lowest app because imports run ``licences`` <- ``quotas`` <- ``compliance``;
the higher apps' admin modules import it, never the other way round.

A *decision* is a named operation on one record that goes through a service function (the
same one the API calls): approve a licence, resolve a finding, ... A model admin lists its
decisions once; the mixin turns each into

- an admin action for the selected rows, with an intermediate page holding the decision's
  form (granted quantity, validity, reason, expiry, ...) and a confirm button, and
- a button on the record's change page leading to the same form for that one record.

Either way the user needs the model's *change* permission (the "Regulator" group has it,
the read-only "Analyst" group does not): without it the buttons and actions are not
offered and a forced POST is refused with 403. A ``DomainError`` raised by the service is
shown as an admin error message (:func:`message_domain_error`), never as a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from common.errors import DomainError

DECISION_TEMPLATE = "admin/decisions/confirm.html"


# The mixins below are mixed into ``admin.ModelAdmin`` subclasses; the type checker reads them
# as model admins, Python as plain classes (a mixin must not be a ModelAdmin itself).
if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # a label given as gettext_lazy(...)

    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object


def message_domain_error(request: HttpRequest, error: DomainError, *, subject: Any = None) -> None:
    """Show a refused business operation as an admin error message: the one mapping of
    ``DomainError`` to the admin, as the API's exception handler is the one mapping to HTTP."""
    if subject is not None:
        messages.error(
            request, gettext("%(subject)s: refused. %(reason)s") % {"subject": subject, "reason": error.message}
        )
    else:
        messages.error(request, gettext("Refused. %(reason)s") % {"reason": error.message})


def acting_user(request: HttpRequest) -> User:
    """The signed-in user a decision is recorded against (the admin only serves signed-in staff)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


class IsoDateInput(forms.DateInput):
    """The browser's date picker: ``<input type="date">`` needs ISO dates whatever the locale."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class ReasonForm(forms.Form):
    """A decision that must say why (suspend, revoke, reinstate, reject, resolve)."""

    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Recorded with the decision and shown in the record's history."),
    )


class ConfirmForm(forms.Form):
    """A decision with nothing to fill in: confirming is enough (activate a policy)."""


class NoteForm(forms.Form):
    """A decision with an optional note (acknowledge)."""

    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


@dataclass(frozen=True)
class Decision:
    """One decision a model admin offers.

    ``perform(request, record, cleaned_data)`` calls the service; ``applies_to(record)`` says
    whether the record is in a state the decision can start from (only to decide which
    buttons to show: the service still checks the transition). ``initial(record)`` gives
    the form's starting values for a single record.
    """

    name: str
    label: StrOrPromise
    form_class: type[forms.Form]
    perform: Callable[[HttpRequest, Any, dict[str, Any]], Any]
    applies_to: Callable[[Any], bool]
    done: StrOrPromise
    initial: Callable[[Any], dict[str, Any]] | None = None
    danger: bool = False
    help_text: StrOrPromise = ""


class DecisionAdminMixin(_ModelAdmin):
    """Turns ``decisions`` into admin actions and change-page buttons (see the module docstring).

    Subclasses list their decisions and add ``decision_action("name")`` entries to ``actions``.
    """

    decisions: Sequence[Decision] = ()
    change_form_template = "admin/decisions/change_form.html"

    # --- permissions ---------------------------------------------------------------------

    def has_decide_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Deciding changes a record, so it takes the model's change permission."""
        return self.has_change_permission(request, obj)

    def decision(self, name: str) -> Decision:
        for decision in self.decisions:
            if decision.name == name:
                return decision
        raise KeyError(name)

    def available_decisions(self, request: HttpRequest, obj: Any) -> list[Decision]:
        """The decisions this user may take on ``obj`` in its current state (buttons to show)."""
        if obj is None or not self.has_decide_permission(request, obj):
            return []
        return [decision for decision in self.decisions if decision.applies_to(obj)]

    # --- URLs and views ------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        decide = self.admin_site.admin_view(self.decision_view)
        return [
            path(
                "<path:object_id>/decide/<slug:decision_name>/",
                decide,
                name=f"{opts.app_label}_{opts.model_name}_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "decisions": self.available_decisions(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    def decision_view(self, request: HttpRequest, object_id: str, decision_name: str) -> HttpResponse:
        """One record, one decision: GET shows the form, POST confirms and calls the service."""
        opts = self.model._meta
        try:
            decision = self.decision(decision_name)
        except KeyError:
            raise PermissionDenied from None
        record = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_decide_permission(request, record):
            raise PermissionDenied
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk])
        initial = decision.initial(record) if decision.initial else {}
        if request.method == "POST":
            form = decision.form_class(request.POST, initial=initial)
            if form.is_valid():
                try:
                    decision.perform(request, record, form.cleaned_data)
                except DomainError as error:
                    message_domain_error(request, error, subject=record)
                else:
                    messages.success(
                        request, gettext("%(record)s: %(done)s.") % {"record": record, "done": decision.done}
                    )
                    return HttpResponseRedirect(change_url)
        else:
            form = decision.form_class(initial=initial)
        return self._render_decision(request, decision, form, [record], cancel_url=change_url, single=True)

    def run_decision_action(
        self, request: HttpRequest, queryset: models.QuerySet[Any], name: str
    ) -> HttpResponse | None:
        """The body of a decision's admin action: the intermediate page, then the decisions."""
        decision = self.decision(name)
        if not self.has_decide_permission(request):
            raise PermissionDenied
        records = list(queryset)
        if "confirm" in request.POST:
            form = decision.form_class(request.POST)
            if form.is_valid():
                self._decide_each(request, decision, records, form.cleaned_data)
                return None  # back to the change list, with the messages
        else:
            initial = decision.initial(records[0]) if decision.initial and len(records) == 1 else {}
            form = decision.form_class(initial=initial)
        opts = self.model._meta
        cancel_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        return self._render_decision(request, decision, form, records, cancel_url=cancel_url, single=False)

    def _decide_each(
        self, request: HttpRequest, decision: Decision, records: Iterable[Any], data: dict[str, Any]
    ) -> None:
        done: list[str] = []
        for record in records:
            try:
                decision.perform(request, record, data)
            except DomainError as error:
                message_domain_error(request, error, subject=record)
            else:
                done.append(str(record))
        if done:
            messages.success(
                request,
                gettext("%(records)s: %(done)s.") % {"records": gettext(", ").join(done), "done": decision.done},
            )

    def _render_decision(
        self,
        request: HttpRequest,
        decision: Decision,
        form: forms.Form,
        records: list[Any],
        *,
        cancel_url: str,
        single: bool,
    ) -> TemplateResponse:
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("%(decision)s: confirm") % {"decision": decision.label},
            "opts": opts,
            "decision": decision,
            "form": form,
            "records": records,
            "single": single,
            "cancel_url": cancel_url,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": f"decide_{decision.name}",
            "media": self.media + form.media,
        }
        return TemplateResponse(request, DECISION_TEMPLATE, context)


DecisionAction = Callable[[DecisionAdminMixin, HttpRequest, "models.QuerySet[Any]"], HttpResponse | None]


def decision_action(name: str, description: StrOrPromise) -> DecisionAction:
    """An admin action (named ``decide_<name>``) that runs the decision ``name`` on the selection."""

    def action(
        modeladmin: DecisionAdminMixin, request: HttpRequest, queryset: models.QuerySet[Any]
    ) -> HttpResponse | None:
        return modeladmin.run_decision_action(request, queryset, name)

    action.__name__ = f"decide_{name}"
    return admin.action(description=description, permissions=["decide"])(action)


# --- History guard ---------------------------------------------------------------------------


class ServiceOwnedHistoryMixin(_ModelAdmin):
    """For models whose state only services may change: history can be read, never reverted.

    django-simple-history's "revert" saves an old version of the whole row, which would
    bypass the service that owns the status and counters (a round's granted units, a
    licence's drawn quantity). Viewing an old version stays allowed.
    """

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied
        response: HttpResponse = super().history_form_view(  # type: ignore[misc] # simple-history's admin, untyped
            request, object_id, version_id, extra_context
        )
        return response
