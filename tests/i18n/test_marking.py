"""The check over the source that finds people-facing strings not marked for translation."""

from __future__ import annotations

from tools import i18n_marking

UNMARKED_PYTHON = """
from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy as _


class Licence(models.Model):
    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        APPROVED = "approved", _("Approved")

    number = models.CharField(max_length=64, help_text="The licence number.")
    note = models.TextField(_("note"), blank=True)
    company = models.ForeignKey("Company", on_delete=models.PROTECT, verbose_name=_("company"))


class LicenceAdmin(admin.ModelAdmin):
    @admin.display(description="Company page")
    def page(self, obj):
        return ""

    def approve(self, request, queryset):
        messages.success(request, f"{queryset.count()} licences approved.")
        raise forms.ValidationError(_("Refused."))


class GrantForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), choices=[("a", "Alpha"), ("b", _("Beta"))])
    until = forms.DateField()
"""


def test_it_catches_each_kind_of_unmarked_python_string():
    found = {(item.why, item.text) for item in i18n_marking.scan_python(UNMARKED_PYTHON)}
    assert found == {
        ("Status choice label", "Applied"),
        ("CharField without a marked verbose_name", "number"),
        ("help_text=", "The licence number."),
        ("model without a marked Meta.verbose_name", "Licence"),
        ("description=", "Company page"),
        ("messages.success()", " licences approved."),
        ("choices label", "Alpha"),
        ("DateField without a marked label", "until"),
    }


UNMARKED_TEMPLATE = """{% extends "admin/base_site.html" %}{% load i18n %}
{% comment %}A note to developers is not for people.{% endcomment %}
<style>.x { content: "not text"; }</style>
<h2>{% translate "Import licences" %}</h2>
<p>Held for more than {{ days }} days</p>
<p>{% blocktranslate %}Held for more than {{ days }} days{% endblocktranslate %}</p>
<input type="submit" value="Compare"> <input type="submit" value="{% translate 'Compare' %}">
<a title="Open the record" href="#">{{ record }}</a> &rsaquo; {{ other }} v{{ version }}
"""


def test_it_catches_unmarked_template_text_and_attributes():
    found = [(item.why, item.text) for item in i18n_marking.scan_template(UNMARKED_TEMPLATE)]
    assert found == [
        ("template text", "Held for more than"),
        ("template text", "days"),
        ("button value", "Compare"),
        ("title attribute", "Open the record"),
    ]


def test_the_scanned_packages_are_a_constant_covering_ours():
    assert set(i18n_marking.SCANNED_PACKAGES) == {
        "licences",
        "quotas",
        "compliance",
        "api",
        "cockpit",
        "common",
        "config",
    }


def test_every_string_for_people_in_the_scanned_packages_is_marked():
    assert [str(item) for item in i18n_marking.scan()] == []
