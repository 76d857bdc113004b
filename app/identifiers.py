"""Identifier checks on top of python-stdnum: citizen ID (GB 11643), credit code (GB 32100), mobile.

Each `clean_*` returns the normalised value or raises InvalidIdentifier with a translated message;
lower-case x in ID numbers becomes X everywhere.
"""
import re
from datetime import date

from flask_babel import lazy_gettext as _l
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from .errors import UserError


class InvalidIdentifier(UserError, ValueError):
    """An identifier that fails its format or check digit."""


def clean_id_number(value: str) -> str:
    number = ric.compact(re.sub(r"\s+", "", value or "")).upper()
    if not number:
        raise InvalidIdentifier(_l("Enter the 18-character citizen ID number.")) from None
    try:
        return ric.validate(number)
    except stdnum_errors.InvalidLength:
        raise InvalidIdentifier(_l("A citizen ID number has 18 characters.")) from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidIdentifier(_l("The check character of this ID number is wrong; please check every digit.")) from None
    except stdnum_errors.InvalidComponent:
        raise InvalidIdentifier(_l("This ID number contains an impossible birth date or region code.")) from None
    except stdnum_errors.ValidationError:
        raise InvalidIdentifier(_l("This is not a valid citizen ID number.")) from None


def birth_date_of(id_number: str) -> date:
    return ric.get_birth_date(id_number)


def gender_of(id_number: str) -> str:
    """'M' or 'F': the 17th digit is odd for men."""
    return "M" if int(id_number[16]) % 2 else "F"


def mask_id_number(id_number: str) -> str:
    """Public form, e.g. 5329011972******14."""
    return id_number[:10] + "******" + id_number[16:] if id_number and len(id_number) == 18 else id_number


def clean_credit_code(value: str) -> str:
    code = uscc.compact(re.sub(r"\s+", "", value or "")).upper()
    if not code:
        raise InvalidIdentifier(_l("Enter the 18-character unified social credit code.")) from None
    try:
        return uscc.validate(code)
    except stdnum_errors.InvalidLength:
        raise InvalidIdentifier(_l("A unified social credit code has 18 characters.")) from None
    except stdnum_errors.InvalidChecksum:
        raise InvalidIdentifier(_l("The check character of this credit code is wrong; please check every character.")) from None
    except stdnum_errors.ValidationError:
        raise InvalidIdentifier(_l("This is not a valid unified social credit code.")) from None


_MOBILE = re.compile(r"^1\d{10}$")


def clean_mobile(value: str) -> str:
    phone = re.sub(r"[\s-]", "", value or "")
    if not _MOBILE.match(phone):
        raise InvalidIdentifier(_l("A mobile number has 11 digits and starts with 1.")) from None
    return phone
