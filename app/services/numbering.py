"""Serial numbers from named counters, safe under concurrent transactions on SQLite and PostgreSQL.

Formats (DOMAIN.md, our rules): application SQ + yyyymmdd + 6-digit daily serial; registration
number = province abbreviation + "1" + province code at initial registration + qualification year
+ year of initial registration + 5-digit provincial serial; certificate number = year + 8-digit
national serial.

The formats and the counters' names are pure functions (`format_*`, `*_counter`, `parse_*`), shared by
the engine (the functions taking a session, below) and the bulk-data generator (ops/generate.py).
"""
import re
from datetime import date
from typing import NamedTuple

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from models import Counter, Province


# --- Formats (pure) ---------------------------------------------------------------------------------
def application_counter(day: date) -> str:
    return f"application:{day:%Y%m%d}"


def registration_counter(province_code: str, year: int) -> str:
    return f"registration:{province_code}:{year}"


def certificate_counter(year: int) -> str:
    return f"certificate:{year}"


def announcement_counter(year: int) -> str:
    return f"announcement:{year}"


def format_application_number(day: date, serial: int) -> str:
    return f"SQ{day:%Y%m%d}{serial:06d}"


def format_registration_digits(province_code: str, qualification_year: int, year: int, serial: int) -> str:
    return f"1{province_code}{qualification_year:04d}{year:04d}{serial:05d}"


def format_registration_number(province_abbr: str, digits: str) -> str:
    """The leading character is the current employer's province abbreviation; the digits never change."""
    return province_abbr + digits


def format_certificate_number(year: int, serial: int) -> str:
    return f"{year:04d}{serial:08d}"


class ApplicationNumber(NamedTuple):
    day: date
    serial: int


class RegistrationDigits(NamedTuple):
    province_code: str
    qualification_year: int
    year: int
    serial: int


class CertificateNumber(NamedTuple):
    year: int
    serial: int


_APPLICATION = re.compile(r"SQ(\d{4})(\d{2})(\d{2})(\d{6})")
_DIGITS = re.compile(r"1(\d{2})(\d{4})(\d{4})(\d{5})")
_CERTIFICATE = re.compile(r"(\d{4})(\d{8})")


def parse_application_number(number: str) -> ApplicationNumber | None:
    """The parts of an application number, or None if it is not one."""
    match = _APPLICATION.fullmatch(number or "")
    if match is None:
        return None
    year, month, day, serial = map(int, match.groups())
    try:
        return ApplicationNumber(date(year, month, day), serial)
    except ValueError:
        return None


def parse_registration_digits(digits: str) -> RegistrationDigits | None:
    match = _DIGITS.fullmatch(digits or "")
    if match is None:
        return None
    province_code, qualification_year, year, serial = match.groups()
    return RegistrationDigits(province_code, int(qualification_year), int(year), int(serial))


def parse_registration_number(number: str) -> tuple[str, RegistrationDigits] | None:
    """(province abbreviation, digits' parts) of a full registration number, or None."""
    abbr, digits = (number or "")[:1], (number or "")[1:]
    parts = parse_registration_digits(digits)
    return None if parts is None or abbr.isdigit() else (abbr, parts)


def parse_certificate_number(number: str) -> CertificateNumber | None:
    match = _CERTIFICATE.fullmatch(number or "")
    return None if match is None else CertificateNumber(*map(int, match.groups()))


# --- Counters (database) ------------------------------------------------------------------------------
def next_value(session, name: str) -> int:
    """Increment counter `name` atomically (row lock held until commit) and return the new value."""
    bump = update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    value = session.execute(bump).scalar()
    if value is not None:
        return value
    try:
        with session.begin_nested():
            session.add(Counter(name=name, value=1))
        return 1
    except IntegrityError:  # another transaction created it first
        return session.execute(bump).scalar()


def application_number(session, day) -> str:
    return format_application_number(day, next_value(session, application_counter(day)))


def registration_digits(session, province_code: str, qualification_year: int, year: int) -> str:
    serial = next_value(session, registration_counter(province_code, year))
    return format_registration_digits(province_code, qualification_year, year, serial)


def registration_number(session, digits: str, employer_province_code: str) -> str:
    """The full number: the leading character follows the current employer's province."""
    return format_registration_number(session.get(Province, employer_province_code).abbr, digits)


def certificate_number(session, day) -> str:
    return format_certificate_number(day.year, next_value(session, certificate_counter(day.year)))
