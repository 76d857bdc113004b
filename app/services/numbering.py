"""Serial numbers from named counters, safe under concurrent transactions on SQLite and PostgreSQL.

Formats (DOMAIN.md, our rules): application SQ + yyyymmdd + 6-digit daily serial; registration
number = province abbreviation + "1" + province code at initial registration + qualification year
+ year of initial registration + 5-digit provincial serial; certificate number = year + 8-digit
national serial.
"""
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from models import Counter, Province


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
    return f"SQ{day:%Y%m%d}{next_value(session, f'application:{day:%Y%m%d}'):06d}"


def registration_digits(session, province_code: str, qualification_year: int, year: int) -> str:
    serial = next_value(session, f"registration:{province_code}:{year}")
    return f"1{province_code}{qualification_year:04d}{year:04d}{serial:05d}"


def registration_number(session, digits: str, employer_province_code: str) -> str:
    """The full number: the leading character follows the current employer's province."""
    return session.get(Province, employer_province_code).abbr + digits


def certificate_number(session, day) -> str:
    return f"{day:%Y}{next_value(session, f'certificate:{day:%Y}'):08d}"
