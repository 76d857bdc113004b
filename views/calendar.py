"""节假日与调休: the administrator keeps the working-day calendar (models/calendar.py) the statutory deadlines
count by (app/services/workdays.py).

One panel (declared in views/registry.py) with the generated list, show, add, edit and delete pages, and three
pages of its own: the CSV import (`upload`, synchronous: a calendar is a few dozen rows), its sample file and
"fill a year from chinese-calendar" (`fill`). The list opens with a summary per year (rows in the table, whether
chinese-calendar knows the year, what that year's deadlines count by) and filters by year or by a day range.

Decisions on what a row may be (app/calendar.py holds the rules):
- a date once: a second row for the same date is refused on the form (edit the row that exists);
- a make-up working day on a weekday is refused (an error on the form): only a Saturday or Sunday can be one;
- a public holiday on a Saturday or Sunday is saved with a warning: the official notices list the whole break,
  weekend days included, but such a row moves no deadline.
Every row saved here gets source "admin"; every change (here, by import or fill) clears this process's copy of
the table at once (other processes re-read it within CALENDAR_CACHE_SECONDS) and is audited (the model is).
"""
import io
import re
from datetime import date

from flask import abort, flash, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, DatePickerWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import BaseFilter, get_field_setup_query
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import false
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ground.clock import today
from app import calendar
from app.scope import current_user
from app.services import workdays
from views.base import ScopedModelView


# --- the add and edit form ----------------------------------------------------------------------------------
def _as_workday(value):
    """The kind select's value → is_workday (unknown values are a form error, never a guess)."""
    if isinstance(value, bool):
        return value
    if value in ("True", "1", "workday"):
        return True
    if value in ("False", "0", "holiday"):
        return False
    raise ValueError("not a kind")


class CalendarEntry:
    """The date's row is possible: not in the table twice, no make-up working day on a weekday."""

    def __call__(self, form, field):
        day, kind = field.data, getattr(form, "is_workday", None)
        if not isinstance(day, date):
            return
        error = calendar.duplicate_error(day, getattr(form, "_id", None))
        if error is None and kind is not None and isinstance(kind.data, bool):
            error = calendar.entry_error(day, kind.data)
        if error:
            raise ValidationError(error)


def entry_fields() -> dict:
    """The add and edit forms' fields (they replace FAB's generated ones)."""
    return {
        "day": DateField(_l("Date"), format="%Y-%m-%d", widget=DatePickerWidget(),
                         validators=[DataRequired(), CalendarEntry()]),
        "is_workday": SelectField(_l("Kind"), choices=[(False, calendar.KINDS[False]), (True, calendar.KINDS[True])],
                                  coerce=_as_workday, widget=Select2Widget(),
                                  description=_l("A make-up working day (调休上班) is a Saturday or Sunday.")),
        "name": StringField(_l("Holiday"), validators=[Optional(), Length(max=calendar.NAME_MAX)],
                            widget=BS3TextFieldWidget(),
                            description=_l("The holiday, as in the State Council's notice (e.g. 国庆节).")),
    }


COMPUTED = {
    "weekday": lambda row: calendar.weekday_name(row.day),
    "kind_label": lambda row: calendar.kind_label(row.is_workday),
}


class FilterInYear(BaseFilter):
    """Rows of one year: the value is a year (2026) or any date in it (what the search's date picker sends)."""

    name = _l("In the year")
    arg_name = "year"

    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        match = re.match(r"^\s*([0-9]{4})(?:[^0-9]|$)", str(value or ""))
        year = int(match.group(1)) if match else 0
        if not 1 <= year <= 9999:
            return query.filter(false())
        return query.filter(field >= date(year, 1, 1), field <= date(year, 12, 31))


# --- the page forms -----------------------------------------------------------------------------------------
class CalendarUploadForm(DynamicForm):
    file = FileField(_l("Calendar file (CSV)"), validators=[FileRequired(_l("Choose a file to upload."))])


def _library_years() -> list[int]:
    """Years around now that chinese-calendar knows (the fill form's choices)."""
    this = today().year
    return [y for y in range(this - 1, this + 2) if workdays.library_knows(y)]


class CalendarFillForm(DynamicForm):
    year = SelectField(_l("Year"), coerce=int, validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.year.choices = [(y, str(y)) for y in _library_years()]
        if not self.is_submitted() and self.year.choices:
            self.year.data = self.year.choices[-1][0]  # the newest year offered


class CalendarDayView(ScopedModelView):
    list_template = "calendar/list.html"
    add_label = _l("Add a date")

    def _init_properties(self):
        super()._init_properties()
        by_year = FilterInYear("day", self.datamodel)
        # FAB reads the search form's filters from one dict and the address's from another: the same index in both.
        for filters in (self._filters.get_search_filters(), self._filters._all_filters):
            filters["day"].append(by_year)

    # --- the list: a summary per year above FAB's list ---
    def year_filter_key(self) -> str:
        """The list's query argument that filters by year (FAB numbers a column's filters)."""
        filters = self._filters.get_search_filters()["day"]
        index = next(i for i, f in enumerate(filters) if isinstance(f, FilterInYear))
        return f"_flt_{index}_day"

    def year_url(self, year) -> str:
        return url_for(f"{self.__class__.__name__}.list", **{self.year_filter_key(): year})

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            this = today().year
            years = {this, this + 1} | {y for y in calendar.table_years() if y >= this - 1}
            kwargs.update(years=calendar.year_summary(years), year_url=self.year_url, fill_form=CalendarFillForm(),
                          today=today(), can_change=self.appbuilder.sm.has_access("can_upload",
                                                                                   self.class_permission_name))
        return super().render_template(template, **kwargs)

    # --- the generated add, edit and delete ---
    def _admin_row(self, item):
        item.name = calendar.clean_name(item.name)
        item.source = "admin"
        warning = calendar.entry_warning(item.day, item.is_workday)
        if warning:
            flash(warning, "warning")

    def pre_add(self, item):
        self._admin_row(item)

    def pre_update(self, item):
        self._admin_row(item)

    def post_add(self, item):
        super().post_add(item)
        calendar.changed()

    def post_update(self, item):
        calendar.changed()

    def post_delete(self, item):
        calendar.changed()

    # --- the import, its sample, the fill ---
    @expose("/upload", methods=["GET", "POST"])
    @has_access
    def upload(self):
        """The CSV import: all or nothing; a refused file is shown with every bad row and its reason."""
        form = CalendarUploadForm()
        error, problems = None, []
        if request.method == "POST" and form.validate_on_submit():
            upload = form.file.data
            try:
                outcome = calendar.import_csv(upload.stream.read(calendar.MAX_BYTES + 1), upload.filename,
                                              current_user())
            except calendar.CalendarRefused as exc:
                error, problems = str(exc.message), exc.problems
            else:
                flash(_("Calendar imported: %(created)s dates added, %(updated)s changed, %(unchanged)s unchanged.",
                        created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged), "success")
                if len(outcome.years) == 1:
                    return redirect(self.year_url(outcome.years[0]))
                return redirect(url_for(f"{self.__class__.__name__}.list"))
        return self.render_template("calendar/upload.html", form=form, error=error, problems=problems,
                                    holiday_types=calendar.HOLIDAY_TYPES, workday_types=calendar.WORKDAY_TYPES,
                                    max_kb=calendar.MAX_BYTES // 1024, title=_("Import holidays and make-up days"),
                                    sample_year=self._sample_year())

    def _sample_year(self) -> int | None:
        years = _library_years()
        return years[-1] if years else None

    @expose("/sample")
    @has_access
    def sample(self):
        """The sample file: the newest year chinese-calendar knows, in the import format."""
        year = self._sample_year()
        if year is None:
            abort(404)
        body = calendar.to_csv(calendar.library_entries(year), f"{year}: chinese-calendar").encode("utf-8-sig")
        return send_file(io.BytesIO(body), mimetype="text/csv", as_attachment=True,
                         download_name=f"calendar-{year}.csv")

    @expose("/fill", methods=["POST"])
    @has_access
    def fill(self):
        """Write a year chinese-calendar knows into the table, so it is complete and can be edited."""
        form = CalendarFillForm()
        if not form.validate_on_submit():
            flash(_("Choose a year chinese-calendar knows."), "danger")
            return redirect(url_for(f"{self.__class__.__name__}.list"))
        try:
            outcome = calendar.fill_from_library(form.year.data, current_user())
        except calendar.CalendarRefused as exc:
            flash(str(exc.message), "danger")
            return redirect(url_for(f"{self.__class__.__name__}.list"))
        flash(_("%(year)s from chinese-calendar: %(created)s dates added; %(unchanged)s dates were in the table already "
                "and kept as they are.", year=form.year.data, created=outcome.created, unchanged=outcome.unchanged),
              "success")
        return redirect(self.year_url(form.year.data))
