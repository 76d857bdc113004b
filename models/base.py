"""Shared model plumbing: FAB's declarative base, timestamp columns, translatable choice lists."""
from flask_appbuilder import Model
from flask_babel import get_locale
from sqlalchemy import Column, DateTime

from ground.clock import now_utc

__all__ = ["Model", "Timestamps", "Choices", "localized"]


class Timestamps:
    """created_at / updated_at in naive UTC."""

    created_at = Column(DateTime, default=now_utc, nullable=False)
    updated_at = Column(DateTime, default=now_utc, onupdate=now_utc, nullable=False)


class Choices:
    """An ordered code → lazy label list: validates codes, feeds select fields, renders labels."""

    def __init__(self, *pairs):
        self.pairs = tuple(pairs)
        self.labels = dict(pairs)

    def __contains__(self, code):
        return code in self.labels

    def __iter__(self):
        return iter(self.labels)

    def label(self, code):
        return self.labels.get(code, code or "")

    def choices(self, blank=False):
        items = [(code, str(label)) for code, label in self.pairs]
        return ([("", "—")] if blank else []) + items


def localized(zh: str, en: str | None) -> str:
    """Pick the Chinese or English name of a dictionary entry for the current UI language."""
    try:
        lang = str(get_locale() or "zh")
    except Exception:  # outside a request
        lang = "zh"
    return en if lang.startswith("en") and en else zh
