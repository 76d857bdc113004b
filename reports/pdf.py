"""Render a template under reports/templates to PDF bytes with WeasyPrint.

Fonts: the CJK font is the system's (Debian fonts-noto-cjk, installed by the set-up scripts);
nothing is fetched from the network (the URL fetcher refuses remote URLs).
"""
from datetime import timezone
from pathlib import Path

from flask import current_app
from jinja2 import FileSystemLoader

from ground.clock import CHINA_TZ, now_utc

TEMPLATES = Path(__file__).resolve().parent / "templates"


def local_fetcher():
    """Only inline (data:) and local files: nothing is fetched from the network."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data", "file"})


def render_html(template: str, **context) -> str:
    """The app's Jinja environment (gettext, filters) reading templates from reports/templates."""
    env = current_app.jinja_env.overlay(loader=FileSystemLoader(str(TEMPLATES)))
    generated = now_utc().replace(tzinfo=timezone.utc).astimezone(CHINA_TZ)
    return env.get_template(template).render(generated_at=generated.strftime("%Y-%m-%d %H:%M"), **context)


def render_pdf(template: str, **context) -> bytes:
    from weasyprint import HTML

    html = render_html(template, **context)
    return HTML(string=html, base_url=str(TEMPLATES), url_fetcher=local_fetcher()).write_pdf()
