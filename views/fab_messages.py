"""Strings of Flask-AppBuilder's own templates that its Chinese catalogue lacks. Listed here so that our
catalogues carry them: Flask-Babel merges FAB's catalogue and ours, ours last."""
from flask_babel import lazy_gettext as _l

FAB_MESSAGES = (
    _l("Show"),  # the list's row button (screen-reader text)
)
