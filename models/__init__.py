"""SQLAlchemy models, one module per aggregate, all on FAB's `Model.metadata`."""
from models.announcement import AnnouncementBatch
from models.application import Application, TransitionLog, application_specialty
from models.audit import AuditLog
from models.calendar import CalendarDay
from models.base import Model
from models.captcha import CaptchaChallenge
from models.certificate import Certificate
from models.counter import Counter
from models.dictionary import Province, Specialty
from models.conflict import InsuranceConflict, SocialInsuranceRecord
from models.education import ContinuingEducation
from models.enterprise import Enterprise, EnterpriseStatusChange
from models.industry import user_industry_specialty
from models.notification import EmailOutbox, Notification
from models.job import Job, PeriodicRun, StatisticsSnapshot, WorkerStatus
from models.penalty import PenaltyRecord
from models.person import Attachment, Person
from models.qualification import Qualification
from models.registration import Registration, RegistrationSpecialty
from models.realname import RealnameRequest
from models.session import UserSession
from models.sms import SmsCode, SmsOutbox
from models.user import AppUser

__all__ = [
    "AnnouncementBatch", "Application", "AppUser", "Attachment", "AuditLog", "CalendarDay", "CaptchaChallenge", "Certificate", "ContinuingEducation", "Counter",
    "EmailOutbox", "Enterprise", "EnterpriseStatusChange", "InsuranceConflict", "Job", "Model", "Notification", "PenaltyRecord", "PeriodicRun", "Person", "Province", "Qualification", "RealnameRequest", "Registration",
    "RegistrationSpecialty", "SmsCode", "SocialInsuranceRecord", "SmsOutbox", "Specialty", "StatisticsSnapshot", "UserSession", "WorkerStatus",
    "TransitionLog", "application_specialty", "user_industry_specialty",
]
