"""Render a template under reports/templates to PDF bytes with WeasyPrint.

Fonts: the CJK font is the system's (Debian fonts-noto-cjk, installed by the set-up scripts);
nothing is fetched from the network (the URL fetcher refuses remote URLs).
"""
from datetime import timezone
from pathlib import Path

from flask import current_app
from jinja2 import FileSystemLoader

from app.clock import CHINA_TZ, now_utc

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _local_only(url, *args, **kwargs):
    from weasyprint import default_url_fetcher

    if url.startswith(("http://", "https://", "ftp://")):
        raise ValueError(f"remote resources are not fetched: {url}")
    return default_url_fetcher(url, *args, **kwargs)


def render_html(template: str, **context) -> str:
    """The app's Jinja environment (gettext, filters) reading templates from reports/templates."""
    env = current_app.jinja_env.overlay(loader=FileSystemLoader(str(TEMPLATES)))
    generated = now_utc().replace(tzinfo=timezone.utc).astimezone(CHINA_TZ)
    return env.get_template(template).render(generated_at=generated.strftime("%Y-%m-%d %H:%M"), **context)


def render_pdf(template: str, **context) -> bytes:
    from weasyprint import HTML

    html = render_html(template, **context)
    return HTML(string=html, base_url=str(TEMPLATES), url_fetcher=_local_only).write_pdf()
