"""Small CSV/XLSX imports (the national enterprise register, social-insurance payments) on the roster's reader
(app/roster.py: type from the content, UTF-8 or GB18030, zip-bomb and size checks, dates in several spellings).

`read(source, columns, required)` yields (row number, {column: cell}) for the rows after the header row; the
header row may use any of each column's spellings. `Report` is the row report every import leaves: refused rows
first, each with its reason, written as UTF-8 CSV with a BOM (Excel opens it).
"""
import csv
import io
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import roster
from app.roster import RosterRefused as TableRefused  # noqa: F401  (the whole file is refused)

HEADER_SEARCH_ROWS = roster.HEADER_SEARCH_ROWS
text = roster._text
parse_date = roster._parse_date
safe_cell = roster._safe_cell
mask = roster._mask
clean_filename = roster.clean_filename
STATUS_LABELS = roster.STATUS_LABELS


def read(source, columns: dict, required) -> list:
    """Every non-blank row after the header: [(row number, {column: cell value})]. Refuses (TableRefused) a file
    that is too large, empty, of another type or without the required columns."""
    table = roster._table(roster._opener(source))
    try:
        numbered = enumerate(table, start=1)
        mapping = roster.header_mapping(numbered, columns, required)
        rows = []
        for number, values in numbered:
            if roster._blank(values):
                continue
            values = list(values)
            rows.append((number, {c: values[i] if i < len(values) else None for c, i in mapping.items()}))
        return rows
    finally:
        table.close()


@dataclass
class Report:
    """The row report: one line per row, in file order; saved with the refused rows first."""

    header: tuple  # lazy labels of the columns before Result and Reason
    rows: list = field(default_factory=list)  # (row number, cells, status, reason)
    error: str = ""

    def add(self, number: int, cells: list, status: str, reason: str = ""):
        self.rows.append((number, cells, status, reason))

    @property
    def counts(self) -> dict:
        counts = {"rows": len(self.rows), "accepted": 0, "refused": 0, "unchanged": 0}
        for _number, _cells, status, _reason in self.rows:
            counts[status] += 1
        return counts

    def to_csv(self) -> str:
        rank = {"refused": 0, "unchanged": 1, "accepted": 2}
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if self.error:
            writer.writerow([safe_cell(self.error)])
        writer.writerow([_("Row"), *(str(h) for h in self.header), _("Result"), _("Reason")])
        for number, cells, status, reason in sorted(self.rows, key=lambda r: (rank[r[2]], r[0])):
            writer.writerow([number, *(safe_cell(c) for c in cells), str(STATUS_LABELS[status]), safe_cell(reason)])
        return out.getvalue()

    def save(self, path):
        with open(path, "w", encoding="utf-8-sig", newline="") as out:
            out.write(self.to_csv())
