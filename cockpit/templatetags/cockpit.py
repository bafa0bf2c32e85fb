"""Number formats for the cockpit pages, the same as the charts use."""

from django import template

from cockpit import charts

register = template.Library()


@register.filter
def units(value) -> str:
    """``328000`` -> ``328,000``."""
    return "" if value is None else charts.units(value)


@register.filter
def percent(ratio) -> str:
    """``0.6667`` -> ``66.7 %``."""
    return "" if ratio is None else charts.percent(ratio)


@register.filter
def usd(value) -> str:
    """``9336000000`` -> ``USD 9.336 bn``."""
    return "" if value is None else charts.usd(value)


@register.filter
def compliance_status(value: str) -> str:
    """``non_compliant`` -> ``Non-compliant``."""
    from compliance.selectors import ComplianceStatus

    try:
        return str(ComplianceStatus(value).label)
    except ValueError:
        return value
