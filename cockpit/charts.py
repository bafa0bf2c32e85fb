"""Charts drawn on the server as inline SVG: nothing to load from a CDN, nothing to run in
the browser, readable in a screenshot and testable as text.

Every function returns safe markup built with ``format_html`` (labels are escaped). Colours
come from CSS classes (``chart-*``) styled in ``cockpit/templates/admin/cockpit/_styles.html``, so
the charts follow the admin's light and dark themes. Each chart carries its numbers as
text beside the bars, and an ``aria-label`` summarising it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

Number = int | Decimal


def units(value: Number) -> str:
    """``328000`` -> ``328,000`` (whole units; fractions kept for compute and value bases)."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def usd(value: Number) -> str:
    """Compact US dollars: ``9336000000`` -> ``USD 9.336 bn``; ``2400000`` -> ``USD 2.4 m``.

    In Chinese, as Chinese figures are written, in 亿 (10^8) and 万 (10^4):
    ``9336000000`` -> ``93.36亿美元``; ``2400000`` -> ``240万美元``; ``950`` -> ``950美元``.
    """
    value = Decimal(value)
    if (get_language() or "").startswith("zh"):
        for size, suffix in ((Decimal(10) ** 8, "亿"), (Decimal(10) ** 4, "万")):
            if abs(value) >= size:
                amount = f"{value / size:,.4f}".rstrip("0").rstrip(".")
                return f"{amount}{suffix}美元"
        return f"{value:,.0f}美元"
    for size, suffix in ((Decimal(10) ** 9, "bn"), (Decimal(10) ** 6, "m")):
        if abs(value) >= size:
            amount = f"{value / size:,.3f}".rstrip("0").rstrip(".")
            return f"USD {amount} {suffix}"
    return f"USD {value:,.0f}"


def percent(ratio: Number) -> str:
    """``Decimal('0.6667')`` -> ``66.7 %``."""
    return f"{Decimal(ratio) * 100:.1f} %"


def _px(value: Number | float) -> str:
    """A pixel coordinate for SVG (format_html escapes arguments to text, so format first)."""
    return f"{float(value):.1f}"


def _ratio(part: Number, whole: Number) -> Decimal:
    return Decimal(part) / Decimal(whole) if whole else Decimal(0)


def _svg(width: int, height: int, label: str, body: SafeString) -> SafeString:
    return format_html(
        '<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'role="img" aria-label="{label}"><title>{label}</title>{body}</svg>',
        w=width,
        h=height,
        label=label,
        body=body,
    )


def capacity_bar(
    *, used: Number, cap: Number, pending: Number = 0, caption: str, pending_caption: str = "", width: int = 760
) -> SafeString:
    """A bar of ``used`` against ``cap``, with ``pending`` drawn (hatched) after it.

    Pending demand beyond the cap shows as a red overflow mark at the bar's end.
    """
    bar_w, bar_h, top = width - 2, 22, 4
    used_w = min(_ratio(used, cap), Decimal(1)) * bar_w
    pending_w = min(_ratio(pending, cap), Decimal(1) - min(_ratio(used, cap), Decimal(1))) * bar_w
    overflow = Decimal(used) + Decimal(pending) > Decimal(cap)
    parts = [
        format_html('<rect class="chart-track" x="1" y="{}" width="{}" height="{}" rx="3"/>', top, bar_w, bar_h),
        format_html('<rect class="chart-used" x="1" y="{}" width="{}" height="{}" rx="3"/>', top, _px(used_w), bar_h),
    ]
    if pending_w > 0:
        parts.append(
            format_html(
                '<rect class="chart-pending" x="{}" y="{}" width="{}" height="{}"/>',
                _px(1 + used_w),
                top,
                _px(pending_w),
                bar_h,
            )
        )
    if overflow and pending:
        parts.append(
            format_html('<rect class="chart-over" x="{}" y="{}" width="6" height="{}"/>', width - 7, top - 3, bar_h + 6)
        )
    parts.append(format_html('<text class="chart-text" x="1" y="{}">{}</text>', top + bar_h + 17, caption))
    height = top + bar_h + 22
    if pending_caption:
        parts.append(
            format_html(
                '<text class="chart-muted{}" x="1" y="{}">{}</text>',
                " chart-warn" if overflow else "",
                height + 14,
                pending_caption,
            )
        )
        height += 20
    return _svg(width, height, caption, mark_safe("".join(parts)))  # noqa: S308 - parts are format_html output


@dataclass(frozen=True)
class CoverageBar:
    """One company's row in the coverage chart."""

    label: str
    coverage: Decimal
    caption: str
    state: str  # "short", "at-risk" or "ok": the bar's colour
    href: str = ""


def coverage_chart(rows: Sequence[CoverageBar], *, width: int = 760, scale: Decimal = Decimal("1.5")) -> SafeString:
    """Horizontal bars of coverage per company on a 0 to 150 % axis, with the 100 % target marked."""
    label_w, caption_w, row_h, top = 170, 250, 30, 22
    bar_w = width - label_w - caption_w
    height = top + row_h * max(len(rows), 1) + 6
    target_x = label_w + bar_w / scale
    parts = [
        format_html('<text class="chart-muted" x="{}" y="14">0 %</text>', label_w),
        format_html(
            '<text class="chart-muted" x="{}" y="14" text-anchor="middle">{}</text>',
            _px(target_x),
            gettext("100 % required"),
        ),
        format_html(
            '<text class="chart-muted" x="{}" y="14" text-anchor="end">{}</text>', label_w + bar_w, percent(scale)
        ),
    ]
    for index, row in enumerate(rows):
        y = top + index * row_h
        length = min(row.coverage, scale) / scale * bar_w
        name = format_html('<text class="chart-text" x="0" y="{}">{}</text>', y + 17, row.label)
        if row.href:
            name = format_html('<a href="{}">{}</a>', row.href, name)
        parts.extend(
            [
                name,
                format_html(
                    '<rect class="chart-track" x="{}" y="{}" width="{}" height="20" rx="3"/>', label_w, y + 3, bar_w
                ),
                format_html(
                    '<rect class="chart-bar-{}" x="{}" y="{}" width="{}" height="20" rx="3"/>',
                    row.state,
                    label_w,
                    y + 3,
                    _px(length),
                ),
                format_html(
                    '<text class="chart-text chart-{}" x="{}" y="{}">{}</text>',
                    row.state,
                    label_w + bar_w + 10,
                    y + 17,
                    row.caption,
                ),
            ]
        )
    parts.append(
        format_html('<line class="chart-target" x1="{x}" x2="{x}" y1="18" y2="{y}"/>', x=_px(target_x), y=height - 2)
    )
    title = gettext("Quota coverage per company, worst first")
    return _svg(width, height, title, mark_safe("".join(parts)))  # noqa: S308


@dataclass(frozen=True)
class CountBar:
    """One row of a bar chart of counts."""

    label: str
    value: int
    caption: str
    state: str = "neutral"


def count_chart(rows: Sequence[CountBar], *, title: str, width: int = 480) -> SafeString:
    """Horizontal bars of counts (findings per rule, shipments per customs status)."""
    label_w, caption_w, row_h = 200, 120, 26
    bar_w = width - label_w - caption_w
    most = max((row.value for row in rows), default=0) or 1
    parts = []
    for index, row in enumerate(rows):
        y = index * row_h
        length = bar_w * row.value / most
        parts.extend(
            [
                format_html('<text class="chart-text" x="0" y="{}">{}</text>', y + 17, row.label),
                format_html(
                    '<rect class="chart-bar-{}" x="{}" y="{}" width="{}" height="18" rx="3"/>',
                    row.state,
                    label_w,
                    y + 4,
                    _px(max(length, 1 if row.value else 0)),
                ),
                format_html(
                    '<text class="chart-text" x="{}" y="{}">{}</text>', _px(label_w + length + 8), y + 17, row.caption
                ),
            ]
        )
    return _svg(width, row_h * max(len(rows), 1) + 4, title, mark_safe("".join(parts)))  # noqa: S308


def utilisation_bar(*, granted: int, reserved: int, used: int, width: int = 260) -> SafeString:
    """A licence's grant split into used (cleared), reserved (declared) and remaining."""
    remaining = max(granted - reserved - used, 0)
    label = gettext("used %(used)s, reserved %(reserved)s, remaining %(remaining)s of %(granted)s") % {
        "used": units(used),
        "reserved": units(reserved),
        "remaining": units(remaining),
        "granted": units(granted),
    }
    if not granted:
        nothing = gettext("nothing granted")
        return _svg(width, 18, nothing, format_html('<text class="chart-muted" x="0" y="13">{}</text>', nothing))
    parts = [format_html('<rect class="chart-track" x="0" y="2" width="{}" height="14" rx="2"/>', width)]
    x = Decimal(0)
    for css, amount in (("used", used), ("reserved", reserved)):
        segment = Decimal(width) * amount / granted
        if segment:
            parts.append(
                format_html('<rect class="chart-{}" x="{}" y="2" width="{}" height="14"/>', css, _px(x), _px(segment))
            )
        x += segment
    return _svg(width, 18, label, mark_safe("".join(parts)))  # noqa: S308
