"""Charts drawn on the server as SVG (pygal), for the dashboard and the PDF report alike.

No script is embedded or fetched (pygal's default loads its tooltip script from the internet; `js=[]`
turns that off), so the charts work on an intranet and under a script-free content policy. Charts are
returned as data: URIs for <img>, which browsers and WeasyPrint both render.
"""
import base64

import pygal
from flask_babel import gettext as _
from pygal.style import Style

FONT = '"Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif'
STYLE = Style(
    background="white", plot_background="white", foreground="#333", foreground_strong="#111",
    foreground_subtle="#999", font_family=FONT, label_font_family=FONT, major_label_font_family=FONT,
    value_font_family=FONT, title_font_family=FONT, legend_font_family=FONT, tooltip_font_family=FONT,
    title_font_size=18, label_font_size=14, major_label_font_size=14, legend_font_size=14, value_font_size=13,
    colors=("#1f4e8c", "#e07b24", "#3c9d5d", "#c23b3b", "#7a5ea8", "#8c6d31", "#4aa3c9", "#b5b5b5"),
)


def _config(**extra):
    settings = dict(style=STYLE, js=[], disable_xml_declaration=False, explicit_size=True, print_values=True,
                    width=640, height=340, legend_at_bottom=True, truncate_legend=-1, truncate_label=-1)
    settings.update(extra)
    return settings


def _integer_axis(chart, values):
    """Whole-number value labels (counts and days), about five of them."""
    top = max([v for v in values if v is not None] or [0])
    step = 1
    while top / step > 5:
        step *= 5 if str(step).startswith("2") else 2
    chart.y_labels = list(range(0, top + step + 1, step))
    chart.value_formatter = lambda v: f"{v:,.0f}" if v is not None else ""


def _uri(chart) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(chart.render()).decode("ascii")


def _empty(title) -> str:
    chart = pygal.Bar(**_config(title=title, show_legend=False))
    chart.no_data_text = _("No data")
    return _uri(chart)


def registered_by_province(table, top: int = 15) -> str:
    """Horizontal bars: registered constructors in the largest provinces."""
    title = _("Registered constructors by province")
    rows = sorted(table.rows, key=table.row_total, reverse=True)[:top]
    if not rows:
        return _empty(title)
    chart = pygal.HorizontalBar(**_config(title=title, show_legend=False, height=max(240, 26 * len(rows) + 80)))
    chart.x_labels = [table.row_labels[r] for r in reversed(rows)]
    values = [table.row_total(r) for r in reversed(rows)]
    chart.add(_("Persons"), values)
    _integer_axis(chart, values)
    return _uri(chart)


def applications_by_month(by_month) -> str:
    title = _("Applications submitted per month")
    if not by_month:
        return _empty(title)
    chart = pygal.Bar(**_config(title=title, show_legend=False, x_label_rotation=-45 if len(by_month) > 12 else 0))
    chart.x_labels = [month for month, _n in by_month]
    chart.add(_("Applications"), [n for _m, n in by_month])
    _integer_axis(chart, [n for _m, n in by_month])
    return _uri(chart)


def stage_times(rows) -> str:
    """Median and p90 working days per stage."""
    title = _("Working days per stage")
    measured = [r for r in rows if r.count]
    if not measured:
        return _empty(title)
    chart = pygal.Bar(**_config(title=title))
    chart.x_labels = [str(r.label) for r in measured]
    chart.add(_("Median"), [r.median for r in measured])
    chart.add(_("90th percentile"), [r.p90 for r in measured])
    _integer_axis(chart, [r.p90 for r in measured])
    return _uri(chart)


def refusals(rows) -> str:
    title = _("Refusals by reason")
    if not rows:
        return _empty(title)
    chart = pygal.HorizontalBar(**_config(title=title, show_legend=False, height=max(240, 30 * len(rows) + 80)))
    chart.x_labels = [label for _c, label, _n in reversed(rows)]
    chart.add(_("Refusals"), [n for _c, _l, n in reversed(rows)])
    _integer_axis(chart, [n for _c, _l, n in rows])
    return _uri(chart)


def all_charts(report) -> dict:
    return {
        "registered": registered_by_province(report.registered),
        "by_month": applications_by_month(report.applications.by_month),
        "stage_times": stage_times(report.stage_times),
        "refusals": refusals(report.refusals),
    }
