"""FAB's data interface tuned for tables of a million rows: index-friendly text filters, capped counts.

- Text "starts with" is a case-sensitive, escaped LIKE 'x%' (FAB's uses ILIKE, which no B-tree index
  serves), listed first so it is the default; the `*_pattern_ops` indexes of migration 0003 serve it on
  PostgreSQL. ID numbers and credit codes are upper-case already (normalised on input), so it finds them.
- The negative text filters (not starts with, not contains, …) are left out: each is a full scan.
- A displayed property sorts by the columns its model names in `__sort_by__` (e.g. an announcement's
  number "2026年第3批" by year and sequence); `sortable()` tells which list columns can be ordered, so no
  list advertises a sort link that would fail.
- Every list page counts its rows; counting a million costs more than the page. The count stops at
  LIST_COUNT_CAP: beyond it the page says "10,000+" and offers pages up to there (narrow the search to
  go further). 0 turns the cap off.
"""
from flask import current_app
from flask_appbuilder.models.sqla import filters as fab
from flask_appbuilder.models.sqla.filters import BaseFilter, get_field_setup_query
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l
from sqlalchemy import asc, desc


class FilterPrefix(BaseFilter):
    name = _l("Starts with")
    arg_name = "sw"

    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field.startswith((value or "").strip(), autoescape=True))


class FilterBooleanEqual(fab.FilterEqual):
    """Yes ("y", as FAB's search form sends it) or no. FAB compares the column with any other text as
    it is, which PostgreSQL refuses (boolean = character varying)."""

    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field == (value in ("y", True)))


class FilterBooleanNotEqual(fab.FilterNotEqual):
    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field != (value in ("y", True)))


_TEXT_FILTERS = [FilterPrefix, fab.FilterEqual, fab.FilterContains, fab.FilterEndsWith, fab.FilterNotEqual]
_DROPPED = {fab.FilterStartsWith, fab.FilterNotStartsWith, fab.FilterNotEndsWith, fab.FilterNotContains,
            fab.FilterIn, fab.FilterNotIn}


class IndexedFilterConverter(fab.SQLAFilterConverter):
    conversion_table = tuple(
        (test, [FilterBooleanEqual, FilterBooleanNotEqual] if test == "is_boolean"
         else _TEXT_FILTERS if fab.FilterStartsWith in filters else [f for f in filters if f not in _DROPPED])
        for test, filters in fab.SQLAFilterConverter.conversion_table
    )


class CappedCount(int):
    """A row count that stopped at the cap: arithmetic sees cap + 1, people read "10,000+"."""

    def __str__(self):
        return f"{self - 1:,}+"


class PanelInterface(SQLAInterface):
    filter_converter_class = IndexedFilterConverter

    def __init__(self, obj, session=None, computed: dict | None = None):
        super().__init__(obj, session=session)
        self.computed = computed or {}  # display columns computed from the whole row (views.base.PanelSpec)

    def _get_attr_value(self, item, col):
        if col in self.computed:
            return self.computed[col](item)
        return super()._get_attr_value(item, col)

    def query_count(self, query, filters=None, select_columns=None) -> int:
        inner = self._apply_inner_all(query, filters, select_columns=select_columns, aliases_mapping={})
        cap = current_app.config.get("LIST_COUNT_CAP") or 0
        if cap <= 0:
            return inner.count()
        count = inner.limit(cap + 1).count()  # SELECT count(*) FROM (… LIMIT cap + 1)
        return CappedCount(count) if count > cap else count

    def sort_columns(self, name: str) -> tuple | None:
        """The model columns a displayed property sorts by (`__sort_by__`), or None."""
        names = getattr(self.obj, "__sort_by__", {}).get(name)
        return tuple(getattr(self.obj, n) for n in names) if names else None

    def sortable(self, name: str) -> bool:
        """True if ordering a list by `name` is a real SQL ORDER BY (a column, a many-to-one column, a mapped
        property), never a Python property the database does not know."""
        if self.sort_columns(name):
            return True
        if "." in name:
            relation, leaf = name.split(".", 1)
            return (self.is_relation_many_to_one(relation) and "." not in leaf
                    and leaf in self.get_related_model(relation).__mapper__.columns)
        return name in self.obj.__mapper__.columns

    def apply_order_by(self, query, order_column, order_direction, aliases_mapping=None,
                       bypass_many_to_many=False, add_pk=False):
        if order_column and not self.sortable(order_column):
            order_column = ""  # an address naming a column SQL cannot order by: the list in its own order
        columns = self.sort_columns(order_column) if order_column else None
        if not columns:
            return super().apply_order_by(query, order_column, order_direction, aliases_mapping=aliases_mapping,
                                          bypass_many_to_many=bypass_many_to_many, add_pk=add_pk)
        direction = asc if order_direction == "asc" else desc
        return query.order_by(*(direction(c) for c in columns), direction(getattr(self.obj, self.get_pk_name())))
