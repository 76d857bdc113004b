"""Identifier checks on top of python-stdnum: citizen ID (GB 11643), credit code (GB 32100), mobile; and the one
rule for people's legal names (clean_person_name) and for contact phones, mobile or landline (clean_contact_phone).

Each `clean_*` returns the normalised value or raises InvalidIdentifier with a translated message;
lower-case x in ID numbers becomes X everywhere.
"""
import re
import unicodedata
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


# --- Legal names (README Decisions: "Names") --------------------------------------------------------------------
# Chinese: CJK unified ideographs (basic, extension A, extensions B–H for rare characters) and 〇, parts of a
# minority name joined by the middle dot · (U+00B7); look-alike dots are normalised to it, spaces dropped.
# Foreign (permanent residents): Latin letters with single spaces, hyphens, apostrophes or dots between them.
NAME_CHINESE_MIN, NAME_CHINESE_MAX = 2, 30
NAME_LATIN_MIN, NAME_LATIN_MAX = 2, 50
_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f\U00031350-\U000323af"
_CHINESE_NAME = re.compile(f"^[{_HAN}]+(?:\u00b7[{_HAN}]+)*$")
_LATIN_LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_LATIN_NAME = re.compile(f"^[{_LATIN_LETTER}]+(?:(?: |-|'|\\. ?)[{_LATIN_LETTER}]+)*\\.?$")
# ・ ･ • ‧ ∙ ⋅ ● ． . and the Katakana middle dot all stand for the middle dot in Chinese names.
_DOTS = re.compile("[\u30fb\uff65\u2022\u2027\u2219\u22c5\u25cf\uff0e.\u0387\u16eb\u2e31]")


def _name_message(part: bool):
    if part:
        return _l("A name part is Chinese characters (a middle dot · between parts of a minority name) or Latin "
                  "letters with spaces, hyphens, apostrophes or dots; no digits or other signs.")
    return _l("A name is 2 to 30 Chinese characters (a middle dot · between parts of a minority name, e.g. "
              "阿依古丽·买买提), or 2 to 50 Latin letters with spaces, hyphens, apostrophes or dots; no digits or other "
              "signs.")


def clean_person_name(value: str, part: bool = False) -> str:
    """A person's legal name, normalised (NFKC, look-alike dots → ·, spaces), or InvalidIdentifier.

    part=True checks a family or given name alone (one character is enough).
    """
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    text = re.sub(r"\s+", " ", text)
    low = 1 if part else None
    if text and not re.search(f"[{_LATIN_LETTER}]", text):  # Chinese: no spaces, one kind of dot
        chinese = _DOTS.sub("\u00b7", text.replace(" ", ""))
        chinese = re.sub("\u00b7+", "\u00b7", chinese)
        if _CHINESE_NAME.match(chinese) and (low or NAME_CHINESE_MIN) <= len(chinese) <= NAME_CHINESE_MAX:
            return chinese
    elif _LATIN_NAME.match(text) and (low or NAME_LATIN_MIN) <= len(text) <= NAME_LATIN_MAX:
        return text
    raise InvalidIdentifier(_name_message(part))


# --- Contact phones: mobiles and landlines ---------------------------------------------------------------------
# A landline: area code (010 and 02X have three digits, every other four), a local number of 7 or 8 digits not
# starting with 0, an optional extension of 1 to 6 digits (-123, 转123, ext 123, #123). Stored as
# "010-12345678" or "0755-1234567-123"; a mobile is stored as its 11 digits.
CONTACT_PHONE_MAX = 20
_LANDLINE = re.compile(r"^\(?(0(?:[12]\d|[3-9]\d{2}))\)?[- ]?([1-9]\d{6,7})"
                       r"(?:(?: ?(?:-|转|ext\.?|x|#) ?| )(\d{1,6}))?$", re.IGNORECASE)


def clean_contact_phone(value: str) -> str:
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    try:
        return clean_mobile(text)
    except InvalidIdentifier:
        pass
    match = _LANDLINE.match(re.sub(r"\s+", " ", text))
    if not match:
        raise InvalidIdentifier(_l("A contact phone is a mobile number (11 digits starting with 1) or a landline with "
                                   "its area code, e.g. 010-12345678 or 0755-1234567, optionally with an extension "
                                   "(010-12345678-123 or 010-12345678转123)."))
    return "-".join(part for part in match.groups() if part)
