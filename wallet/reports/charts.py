"""Charts of the reports as inline SVG, drawn on the server with pygal (no CDN, no script:
the console's pages allow none, and an SVG of a few kilobytes keeps them light).

pygal writes a ``<script>`` with its tooltip configuration into every chart; it is taken
out of the tree before the SVG is written, so the chart is plain markup.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pygal
from pygal.style import Style

from wallet.reports.schemas import (
    CampaignOutcome,
    Liability,
    Movements,
    OfferOutcome,
    ProgramHealth,
)

_STYLE = Style(
    background="white",
    plot_background="white",
    font_family="system-ui, sans-serif",
    colors=("#0a7d48", "#b00020", "#1d4ed8", "#c2410c", "#6b7280"),
)


def _svg(chart: Any) -> str:
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if str(child.tag).rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    ET.register_namespace("", "http://www.w3.org/2000/svg")
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    return ET.tostring(tree, encoding="unicode")


def _config(title: str) -> dict[str, Any]:
    return {
        "title": title,
        "style": _STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "width": 860,
        "height": 320,
        "explicit_size": False,
        "print_values": False,
        "x_label_rotation": 30,
        "legend_at_bottom": True,
    }


def liability_by_expiry(report: Liability) -> str:
    """Points that burn in each of the next twelve months, with their value in roubles."""
    chart = pygal.Bar(**_config("Сгорит баллов по месяцам"), show_legend=False)
    chart.x_labels = [e.month for e in report.expiring]
    chart.add("Баллы", [e.points for e in report.expiring])
    return _svg(chart)


def movements_by_day(report: Movements) -> str:
    """Points credited and debited each day (the day's net beside them)."""
    chart = pygal.Bar(**_config("Движение баллов по дням"))
    chart.x_labels = [d.day for d in report.by_day]
    credits = [
        d.earned + d.promotion + d.cashback + d.bonus + d.refunded + max(d.adjusted, 0)
        for d in report.by_day
    ]
    debits = [d.redeemed + d.expired + d.returned + min(d.adjusted, 0) for d in report.by_day]
    chart.add("Начислено", credits)
    chart.add("Списано, сгорело, возвращено", debits)
    chart.add("Итого", [d.net for d in report.by_day])
    return _svg(chart)


# Each figure's difference as a share of the held-out group's own figure, so that a share,
# a count and roubles sit on one axis; the table beside the chart gives them in their units.
UPLIFT_LABELS = {
    "buyers_share": "Доля купивших",
    "receipts_per_shopper": "Чеков на покупателя",
    "revenue_per_shopper_kopecks": "Выручка на покупателя",
    "points_per_shopper": "Баллов на покупателя",
}


def campaign_uplift(report: CampaignOutcome) -> str:
    """Recipients against the held-out, in % of the held-out's figure, with the 95% interval
    drawn as whiskers (figures with nothing to compare against are left out)."""
    chart = pygal.HorizontalBar(
        **_config("Разница с контрольной группой, % (95% доверительный интервал)"),
        show_legend=False,
    )
    labels: list[str] = []
    values: list[dict[str, Any]] = []
    ends = [0.0]
    for m in report.metrics:
        if not m.held_out:
            continue
        labels.append(UPLIFT_LABELS.get(m.metric, m.metric))
        low, high = round(100 * m.ci_low / m.held_out, 1), round(100 * m.ci_high / m.held_out, 1)
        ends += [low, high]
        values.append(
            {
                "value": round(100 * m.difference / m.held_out, 1),
                "ci": {"low": low, "high": high},
                "color": "#0a7d48" if m.difference >= 0 else "#b00020",
            }
        )
    chart.x_labels = labels
    chart.add("Разница, %", values)
    chart.x_label_rotation = 0
    # pygal scales to the bars alone; the whiskers and zero must fit too.
    pad = (max(ends) - min(ends)) * 0.05 or 1.0
    chart.range = (min(ends) - pad, max(ends) + pad)
    return _svg(chart)


def offer_spend(report: OfferOutcome) -> str:
    """Money paid per shopper each month, the opted-in and the others, each beside its own
    usual (look-back) month, in roubles."""
    chart = pygal.Bar(**_config("Покупки на покупателя в месяц, ₽"))
    chart.x_labels = [m.month for m in report.months]
    for title, values in (
        ("Участники", [m.spend_per_shopper_kopecks for m in report.months]),
        ("Участники, обычный месяц", [m.lookback_per_shopper_kopecks for m in report.months]),
        ("Не участвовали", [m.others_spend_per_shopper_kopecks for m in report.months]),
        (
            "Не участвовали, обычный месяц",
            [m.others_lookback_per_shopper_kopecks for m in report.months],
        ),
    ):
        chart.add(title, [round(v / 100) for v in values])
    return _svg(chart)


def activity_by_month(report: ProgramHealth) -> str:
    """Shoppers who bought and receipts, month by month."""
    chart = pygal.Line(**_config("Активность по месяцам"))
    chart.x_labels = [m.month for m in report.months]
    chart.add("Покупали", [m.active_shoppers for m in report.months])
    chart.add("Чеков", [m.receipts for m in report.months])
    return _svg(chart)


def heat(share: float) -> str:
    """A cohort cell's background: the greener, the larger the share who bought (a heat map
    as a table, so each cell carries its number; pygal draws none)."""
    return f"background: rgba(10, 125, 72, {min(max(share, 0.0), 1.0) * 0.85 + 0.05:.2f})"


# Tiers from the lowest up: grey, blue, gold, then darker (no red: a higher tier is no alarm).
_TIERS = Style(
    background="white",
    plot_background="white",
    font_family="system-ui, sans-serif",
    colors=("#94a3b8", "#1d4ed8", "#d4a017", "#0a7d48", "#7c3aed", "#6b7280"),
)


def tiers_by_month(report: ProgramHealth) -> str:
    """Accounts in each tier at each recorded month end (now for the current month),
    stacked, lowest tier at the bottom."""
    chart = pygal.StackedBar(**{**_config("Счета по уровням на конец месяца"), "style": _TIERS})
    shown = [s for s in report.standings if s.recorded]
    chart.x_labels = [s.month + (" (сейчас)" if s.live else "") for s in shown]
    names = list(dict.fromkeys(t.tier for s in shown for t in s.tiers))
    for name in names:
        chart.add(name, [next((t.accounts for t in s.tiers if t.tier == name), 0) for s in shown])
    return _svg(chart)


def move_cell(kind: str, share: float) -> str:
    """A from→to cell's background: green up, red down, grey unchanged, the stronger the
    larger its share of the row (the number stays in the cell); none for an empty cell."""
    if share <= 0:
        return ""
    rgb = {"up": "10, 125, 72", "down": "176, 0, 32"}.get(kind, "107, 114, 128")
    return f"background: rgba({rgb}, {min(max(share, 0.0), 1.0) * 0.6 + 0.05:.2f})"
