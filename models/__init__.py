"""SQLAlchemy models, one module per aggregate, all on FAB's `Model.metadata`."""
from .announcement import AnnouncementBatch
from .application import Application, TransitionLog, application_specialty
from .audit import AuditLog
from .base import Model
from .captcha import CaptchaChallenge
from .certificate import Certificate
from .counter import Counter
from .dictionary import Province, Specialty
from .enterprise import Enterprise
from .person import Attachment, Person
from .qualification import Qualification
from .registration import Registration, RegistrationSpecialty
from .realname import RealnameRequest
from .session import UserSession
from .sms import SmsCode, SmsOutbox
from .user import AppUser

__all__ = [
    "AnnouncementBatch", "Application", "AppUser", "Attachment", "AuditLog", "CaptchaChallenge", "Certificate", "Counter",
    "Enterprise", "Model", "Person", "Province", "Qualification", "RealnameRequest", "Registration",
    "RegistrationSpecialty", "SmsCode", "SmsOutbox", "Specialty", "UserSession",
    "TransitionLog", "application_specialty",
]
