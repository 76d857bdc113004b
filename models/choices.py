"""Fixed code lists (standard lists and rule lists) with translatable labels."""
from flask_babel import lazy_gettext as _l

from models.base import Choices, localized


class Bilingual:
    """A label given in both languages (for long standard lists kept out of the catalogues)."""

    def __init__(self, zh, en):
        self.zh, self.en = zh, en

    def __str__(self):
        return localized(self.zh, self.en)


GENDERS = Choices(("M", _l("Male")), ("F", _l("Female")))

# GB 3304-1991 codes and names of China's 56 ethnic groups.
_ETHNIC = [
    ("汉族", "Han"), ("蒙古族", "Mongol"), ("回族", "Hui"), ("藏族", "Tibetan"), ("维吾尔族", "Uyghur"),
    ("苗族", "Miao"), ("彝族", "Yi"), ("壮族", "Zhuang"), ("布依族", "Bouyei"), ("朝鲜族", "Korean"),
    ("满族", "Manchu"), ("侗族", "Dong"), ("瑶族", "Yao"), ("白族", "Bai"), ("土家族", "Tujia"),
    ("哈尼族", "Hani"), ("哈萨克族", "Kazakh"), ("傣族", "Dai"), ("黎族", "Li"), ("傈僳族", "Lisu"),
    ("佤族", "Va"), ("畲族", "She"), ("高山族", "Gaoshan"), ("拉祜族", "Lahu"), ("水族", "Sui"),
    ("东乡族", "Dongxiang"), ("纳西族", "Nakhi"), ("景颇族", "Jingpo"), ("柯尔克孜族", "Kyrgyz"), ("土族", "Tu"),
    ("达斡尔族", "Daur"), ("仫佬族", "Mulao"), ("羌族", "Qiang"), ("布朗族", "Blang"), ("撒拉族", "Salar"),
    ("毛南族", "Maonan"), ("仡佬族", "Gelao"), ("锡伯族", "Xibe"), ("阿昌族", "Achang"), ("普米族", "Pumi"),
    ("塔吉克族", "Tajik"), ("怒族", "Nu"), ("乌孜别克族", "Uzbek"), ("俄罗斯族", "Russian"), ("鄂温克族", "Evenki"),
    ("德昂族", "De'ang"), ("保安族", "Bonan"), ("裕固族", "Yugur"), ("京族", "Gin"), ("塔塔尔族", "Tatar"),
    ("独龙族", "Derung"), ("鄂伦春族", "Oroqen"), ("赫哲族", "Hezhen"), ("门巴族", "Monba"), ("珞巴族", "Lhoba"),
    ("基诺族", "Jino"),
]
ETHNICITIES = Choices(*((f"{i:02d}", Bilingual(zh, en)) for i, (zh, en) in enumerate(_ETHNIC, start=1)))

EDUCATION_LEVELS = Choices(
    ("doctorate", _l("Doctorate")), ("master", _l("Master's")), ("bachelor", _l("Bachelor's")),
    ("college", _l("Junior college")), ("secondary", _l("Technical secondary school")), ("other", _l("Other")),
)

DEGREES = Choices(
    ("doctor", _l("Doctor")), ("master", _l("Master")), ("bachelor", _l("Bachelor")), ("none", _l("No degree")),
)

class RealnameStatus:
    """States of a person's real-name verification (the machine is declared in app/machines.py)."""

    UNVERIFIED = "unverified"
    PENDING = "pending"  # queued for an on-site check
    VERIFIED = "verified"
    REJECTED = "rejected"


REALNAME_STATUSES = Choices(
    (RealnameStatus.UNVERIFIED, _l("Not verified")), (RealnameStatus.PENDING, _l("Awaiting on-site check")),
    (RealnameStatus.VERIFIED, _l("Verified")), (RealnameStatus.REJECTED, _l("Rejected")),
)


class RealnameMethod:
    """How a person's identity was checked."""

    ONSITE = "onsite"
    ONLINE = "online"


ATTACHMENT_KINDS = Choices(
    ("photo", _l("1-inch ID photo")), ("id_front", _l("ID card front")), ("id_back", _l("ID card back")),
    ("id_handheld", _l("Half-body photo holding ID card")), ("signature", _l("Signature")),
    ("education_proof", _l("Continuing-education proof")), ("other", _l("Other material")),
    ("decision_document", _l("Decision document")),
)

CANCELLATION_REASONS = Choices(
    ("employer_bankrupt", _l("Employer bankrupt")),
    ("employer_licence_revoked", _l("Employer's business licence revoked")),
    ("employer_qualification_revoked", _l("Employer's qualification revoked")),
    ("contract_ended", _l("Labour contract ended")),
    ("registration_expired", _l("Registration expired")),
    ("over_age", _l("Over the age limit")),
    ("death_or_incapacity", _l("Death or loss of civil capacity")),
    ("revoked_by_law", _l("Registration revoked by law")),
    ("other", _l("Other")),
)

# Why an application is refused (不予注册): recorded with the refusal, counted in the statistics.
REFUSAL_REASONS = Choices(
    ("not_qualified", _l("Qualification requirements not met")),
    ("no_civil_capacity", _l("No full civil capacity")),
    ("materials_false", _l("Materials untrue or forged")),
    ("contract_invalid", _l("Labour contract not valid")),
    ("dual_employment", _l("Employed by more than one enterprise")),
    ("continuing_education", _l("Continuing education not completed")),
    ("over_age", _l("Over the age limit")),
    ("penalty", _l("Under administrative penalty or criminal sanction")),
    ("employer_not_qualified", _l("Employer not qualified")),
    # The refusal grounds of MOC Order No. 153 art. 15 that app/penalties.py checks.
    ("revoked_recently", _l("Certificate revoked less than the barred period ago")),
    ("criminal_sentence", _l("Criminal sentence not served or within the barred period")),
    ("two_units", _l("Applying in two or more units")),
    ("other", _l("Other")),
)

# Continuing education (models/education.py): the kind of course and where a record came from.
EDUCATION_KINDS = Choices(("compulsory", _l("Compulsory")), ("elective", _l("Elective")))
EDUCATION_SOURCES = Choices(("import", _l("Imported from the training provider")),
                            ("entry", _l("Entered from the certificate")))
# The industry department's opinion (出具意见) on an application in its specialties; the ministry decides.
INDUSTRY_OPINIONS = Choices(("agree", _l("Agrees")), ("disagree", _l("Does not agree")))
# Penalty and credit records (不良行为记录, models/penalty.py): what was decided against a person.
PENALTY_KINDS = Choices(
    ("administrative_penalty", _l("Administrative penalty")),
    ("revoked", _l("Registration certificate revoked")),
    ("criminal_sentence", _l("Criminal sentence")),
    ("credit_record", _l("Bad credit record")),
)
# The legal ground a record names (our list, after MOC Order No. 153 and the laws it cites; "other" takes a text).
PENALTY_GROUNDS = Choices(
    ("fraud_registration", _l("Registration obtained by fraud or bribery (MOC Order No. 153)")),
    ("practice_violation", _l("Prohibited conduct in practice (MOC Order No. 153)")),
    ("unregistered_practice", _l("Practising without valid registration (MOC Order No. 153)")),
    ("quality_accident", _l("Quality accident (Regulations on the Quality Management of Construction Projects)")),
    ("safety_accident", _l("Safety accident (Regulations on Work Safety of Construction Projects)")),
    ("construction_law", _l("Construction Law of the PRC")),
    ("criminal_judgment", _l("Criminal judgment of a court")),
    ("credit_rules", _l("Construction market credit rules")),
    ("other", _l("Other law or regulation")),
)

REPLACEMENT_REASONS = Choices(("lost", _l("Lost")), ("damaged", _l("Damaged")))

# The legal ground of a cancellation or revocation by the authority (依法注销/撤销注册; cancel_by_authority).
_OBTAINED_BY_FRAUD = ("obtained_by_fraud", _l("Registration obtained by deception or bribery (revoked)"))
AUTHORITY_GROUNDS = Choices(
    *((code, CANCELLATION_REASONS.labels[code]) for code in ("revoked_by_law",)),
    _OBTAINED_BY_FRAUD,
    *((code, CANCELLATION_REASONS.labels[code])
      for code in ("employer_licence_revoked", "employer_qualification_revoked", "death_or_incapacity", "other")),
)
# Grounds that revoke the registration (撤销) rather than cancel it: a registration.cancel_reason among these means
# "revoked by law" on registration.cancelled_on (a refusal ground for two years, DOMAIN.md).
REVOCATION_REASONS = frozenset({"revoked_by_law", "obtained_by_fraud"})
# What an employer's cancellation records (cancel_by_employer): the labour contract ended.
EMPLOYER_CANCELLATION_REASONS = Choices(("contract_ended", CANCELLATION_REASONS.labels["contract_ended"]))

# Every reason an application may carry (the lists business types point to, app/business_types/): a code has one
# label wherever it appears, so an application's reason is labelled without knowing its type.
APPLICATION_REASONS = Choices(*CANCELLATION_REASONS.pairs, *REPLACEMENT_REASONS.pairs, _OBTAINED_BY_FRAUD)

REGISTRATION_STATUSES = Choices(
    ("active", _l("Registered")), ("cancelled", _l("Cancelled")), ("lapsed", _l("Lapsed")),
)

# Why a registration lapsed (注册失效) without anyone applying: the lifecycle jobs (app/lifecycle.py).
LAPSE_REASONS = Choices(("expired", _l("every registered specialty passed its valid-until date")),
                        ("over_age", _l("the holder reached the age limit")))

# An employer's status (app/employer_status.py): 正常, 停业, 吊销营业执照, 注销; which ones block applications is
# RULES["EMPLOYER_BLOCKING_STATUSES"].
ENTERPRISE_STATUSES = Choices(
    ("active", _l("In business")), ("suspended", _l("Suspended")), ("revoked", _l("Business licence revoked")),
    ("deregistered", _l("Deregistered")),
)
# Where a status change came from: entered by the ministry, or the national enterprise register's import.
ENTERPRISE_STATUS_SOURCES = Choices(
    ("ministry", _l("Entered by the ministry")), ("register", _l("National enterprise register")),
)

CERTIFICATE_STATUSES = Choices(
    ("valid", _l("Valid")), ("revoked", _l("Revoked")), ("replaced", _l("Replaced")), ("expired", _l("Lapsed")),
)

class BatchState:
    """States of an announcement batch (the machine is declared in app/machines.py)."""

    DRAFT = "draft"
    PUBLISHED = "published"


ANNOUNCEMENT_STATES = Choices((BatchState.DRAFT, _l("Being prepared")), (BatchState.PUBLISHED, _l("Published")))

# Why an SMS was sent (app/services/sms.py PURPOSES) and the gateways that record it.
SMS_PURPOSES = Choices(
    ("register", _l("Open an account")), ("apply", _l("Sign an application")),
    ("change_phone", _l("Change mobile")), ("reset_password", _l("Reset password")),
    ("unlock", _l("Unlock account")), ("notice", _l("Notice")),
)
SMS_BACKENDS = Choices(("outbox", _l("Outbox (recorded, not sent)")))
