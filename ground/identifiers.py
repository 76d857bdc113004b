"""Identifier checks on top of python-stdnum: citizen ID (GB 11643), credit code (GB 32100), mobile.

Each `clean_*` returns the normalised value or raises InvalidIdentifier with a translated message;
lower-case x in ID numbers becomes X everywhere.
"""
import re
from datetime import date

from flask_babel import lazy_gettext as _l
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

from ground.errors import UserError


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
    """The masked form shown wherever the full number is not needed: region code and last four kept, the
    birth date hidden, e.g. 110101********1234."""
    return id_number[:6] + "*" * 8 + id_number[14:] if id_number and len(id_number) == 18 else id_number


def mask_mobile(phone: str) -> str:
    """138****5678."""
    return phone[:3] + "****" + phone[7:] if phone and len(phone) == 11 else phone


# ID numbers and mobiles inside free text (log lines, audit details, opinions, file names): whole numbers only.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def personal_numbers_in(text: str) -> list[str]:
    """The ID numbers and mobiles written in `text`."""
    text = text or ""
    return _ID_IN_TEXT.findall(text) + _MOBILE_IN_TEXT.findall(text)


def mask_text(text: str, keep=frozenset()) -> str:
    """`text` with every ID number and mobile in it masked, except those in `keep`."""
    if not text:
        return text
    text = _ID_IN_TEXT.sub(lambda m: m[0] if m[0] in keep else mask_id_number(m[0].upper()), text)
    return _MOBILE_IN_TEXT.sub(lambda m: m[0] if m[0] in keep else mask_mobile(m[0]), text)


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


def looks_like_id_number(name: str) -> bool:
    """An account name shaped like an ID number (the applicants' accounts)."""
    return len(name) == 18 and name[:17].isdigit()


# --- Making valid numbers (demo and bulk data, roster samples, tests) ------------------------------
def make_id_number(region: str, birth: date, sequence: int) -> str:
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_credit_code(region: str, serial: int) -> str:
    body = f"91{region}{serial:08d}X"  # registration authority 9 (industry & commerce), type 1 (enterprise)
    return body + uscc.calc_check_digit(body + "0")
