"""Dictionary labels (provinces, specialties) by code, in the current language, through the shared cache
(ground/cache.py): read on every statistics page and public verification. Codes and names change only through
`flask setup` (ops/cli.py load_dictionaries), which calls changed(): a new version, read again by every host."""
import uuid

from flask import current_app
from flask_babel import get_locale

from ground import cache as shared_cache
from ground.extensions import db
from models import Province, Specialty

VERSION_KEY = "dictionaries:version"
_ORDER = {"province": (Province, Province.code), "specialty": (Specialty, Specialty.sort_order)}


def _language() -> str:
    try:
        return "en" if str(get_locale() or "zh").startswith("en") else "zh"
    except Exception:  # noqa: BLE001 — outside a request: Chinese, as models.base.localized
        return "zh"


def labels(kind: str) -> dict:
    """{code: label} of "province" or "specialty", in dictionary order."""
    model, order = _ORDER[kind]
    version = shared_cache.get(VERSION_KEY) or "0"

    def read():
        return {row.code: str(row) for row in db.session.query(model).order_by(order)}

    return shared_cache.cached(f"dictionaries:{kind}:{_language()}:{version}", read,
                               timeout=current_app.config.get("DICTIONARY_CACHE_SECONDS", 3600))


def changed() -> None:
    """After the dictionaries were written: every host reads them again."""
    shared_cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=0)
