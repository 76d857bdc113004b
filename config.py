"""All settings of the platform: database, security, i18n and the rule parameters of DOMAIN.md.

Every value can be overridden from the environment (see `_env`); nothing secret lives in git.
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", BASE_DIR / "instance"))


def _env(name, default=None, cast=str):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if cast is bool:
        return value.lower() in ("1", "true", "yes", "on")
    return cast(value)


def _secret_key():
    """SECRET_KEY from the environment or a mounted file (SECRET_KEY_FILE); in development else generated once into
    instance/ (never a constant in git); in production nothing: server.py then refuses to start."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    if os.environ.get("SECRET_KEY_FILE"):
        return Path(os.environ["SECRET_KEY_FILE"]).read_text().strip()
    if PRODUCTION:
        return None
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def _database_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{INSTANCE_DIR / 'registry.db'}"
    return _psycopg(url)


def _psycopg(url: str) -> str:
    """Accept the common short forms and always use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# --- Flask / database -------------------------------------------------------------------------
# REGISTRY_ENV=production: secrets must be given (SECRET_KEY or SECRET_KEY_FILE, CERTIFICATE_SIGNING_KEYS), never
# generated per host, or the web servers and workers refuse to start (docs/OPERATIONS.md "Secrets and signing keys");
# cookies only over HTTPS (Secure, the __Host- prefix), HTTPS enforced, HSTS.
PRODUCTION = _env("REGISTRY_ENV", "development") == "production"
SECRET_KEY = _secret_key()
SQLALCHEMY_DATABASE_URI = _database_url()
# The role that owns the tables: migrations, `flask setup`, `flask db-roles` and restore connect with it; the app
# (DATABASE_URL) connects as a role that owns nothing. Empty: the app's URL (SQLite, development).
# Production refuses to start when DATABASE_URL is the owner (docs/OPERATIONS.md "Database roles").
MIGRATION_DATABASE_URL = _psycopg(_env("MIGRATION_DATABASE_URL", ""))
# A streaming replica for exports, statistics and the public register (ground/replica.py); empty: they read the
# primary. Its engine options default to SQLALCHEMY_ENGINE_OPTIONS (DATABASE_REPLICA_ENGINE_OPTIONS: a dict, tests).
DATABASE_REPLICA_URL = _psycopg(_env("DATABASE_REPLICA_URL", ""))
DATABASE_REPLICA_ENGINE_OPTIONS = None
SQLALCHEMY_TRACK_MODIFICATIONS = False
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}  # no personal data in SQL errors
UPLOAD_FOLDER = str(INSTANCE_DIR / "uploads")
MAX_CONTENT_LENGTH = _env("MAX_CONTENT_LENGTH", 16 * 1024 * 1024, int)

# --- Flask-AppBuilder -------------------------------------------------------------------------
APP_NAME = "一级注册建造师注册管理系统"
APP_THEME = ""
FAB_SECURITY_MANAGER_CLASS = "views.shell.security.SecurityManager"
FAB_INDEX_VIEW = "views.index.IndexView"
FAB_BASE_TEMPLATE = "base.html"
# Schema and permissions are created once by the deploy step (`flask setup`), never by web workers:
# several gunicorn workers creating them at once collide (FAB-NOTES).
FAB_CREATE_DB = False
FAB_UPDATE_PERMS = _env("FAB_UPDATE_PERMS", False, bool)
FAB_API_SWAGGER_UI = True
FAB_ADD_OPENAPI_VIEWS = False  # views/contract.py serves a finished description instead of FAB's
FAB_ADD_SECURITY_API = False
FAB_API_MAX_PAGE_SIZE = 100
FAB_PASSWORD_HASH_METHOD = "scrypt"
AUTH_TYPE = 1  # AUTH_DB
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
AUTH_USER_REGISTRATION = False
# FAB_ROLES is computed from the panel registry and the workflow table in views/grants.py.

# --- Security baseline ------------------------------------------------------------------------
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _env("SESSION_COOKIE_SECURE", False, bool)

# --- i18n: Chinese first, English selectable --------------------------------------------------
BABEL_DEFAULT_LOCALE = "zh"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
LANGUAGES = {
    "zh": {"flag": "cn", "name": "中文"},
    "en": {"flag": "gb", "name": "English"},
}

# --- Rule parameters (DOMAIN.md; every "our rule" is a setting) -------------------------------
RULES = {
    # Each registered specialty is valid for this many years after approval or renewal.
    "VALIDITY_YEARS": _env("RULE_VALIDITY_YEARS", 3, int),
    # Renewal may be applied for within this many days before a specialty expires.
    "RENEWAL_WINDOW_DAYS": _env("RULE_RENEWAL_WINDOW_DAYS", 30, int),
    # Nobody at or over this age may be registered or submit an application.
    "AGE_LIMIT": _env("RULE_AGE_LIMIT", 65, int),
    # Initial registration (and re-registration) within this many years of the qualification needs no
    # continuing-education hours.
    "QUALIFICATION_FRESH_YEARS": _env("RULE_QUALIFICATION_FRESH_YEARS", 3, int),
    # Continuing-education hours per validity period (per specialty; general courses count for every specialty):
    # 60 compulsory + 60 elective = 120 per 3-year period, as commonly cited from the continuing-education
    # measures for registered constructors (注册建造师继续教育管理暂行办法, 建市〔2010〕192号). 0 and 0: no check.
    "EDUCATION_COMPULSORY_HOURS": _env("RULE_EDUCATION_COMPULSORY_HOURS", 60, int),
    "EDUCATION_ELECTIVE_HOURS": _env("RULE_EDUCATION_ELECTIVE_HOURS", 60, int),
    # The labour contract must run at least this many months after the submission day (checked at submission,
    # at the enterprise's confirmation and at approval, which also needs it still running).
    "CONTRACT_MIN_MONTHS": _env("RULE_CONTRACT_MIN_MONTHS", 12, int),
    # Change registration (变更注册) online only for holders of a temporary practising certificate (user manual).
    "CHANGE_TEMPORARY_ONLY": _env("RULE_CHANGE_TEMPORARY_ONLY", True, bool),
    # An application the employer has not confirmed after this many days expires (one province's practice).
    "APPLICATION_EXPIRY_DAYS": _env("RULE_APPLICATION_EXPIRY_DAYS", 90, int),
    # The previous employer may release or object to a change of employer within this many (calendar) days.
    "OBJECTION_DAYS": _env("RULE_OBJECTION_DAYS", 7, int),
    # Initial, additional-specialty and re-registration applications choosing a specialty flagged
    # `needs_industry_opinion` pass through the industry department's opinion stage (industry_review) between the
    # province and the ministry (Reg-153 Art. 9: the ministry sends them to the department concerned). Off: skipped.
    "INDUSTRY_OPINION": _env("RULE_INDUSTRY_OPINION", True, bool),
    # An employer in one of these statuses is "not qualified" (单位不具备资格): no application may name it, open
    # ones naming it are returned, its registered people are told to change employer (app/employer_rules.py).
    "EMPLOYER_BLOCKING_STATUSES": _env("RULE_EMPLOYER_BLOCKING_STATUSES", ("suspended", "revoked", "deregistered"),
                                       lambda v: tuple(s.strip() for s in v.split(",") if s.strip())),
    # The conflict check (挂证, app/conflicts.py) compares the social insurance paid this many months before the
    # day it runs (the insurance data lags behind by about a month).
    "SOCIAL_INSURANCE_MONTH_LAG": _env("RULE_SOCIAL_INSURANCE_MONTH_LAG", 1, int),
    # Refusal grounds (MOC Order No. 153 art. 15; app/penalties.py): no registration within this many years of a
    # certificate revoked (from the decision), of a criminal sentence served for a crime in construction practice,
    # and of one served for any other crime.
    "REVOCATION_BAR_YEARS": _env("RULE_REVOCATION_BAR_YEARS", 2, int),
    "CRIMINAL_BAR_YEARS_PRACTICE": _env("RULE_CRIMINAL_BAR_YEARS_PRACTICE", 5, int),
    "CRIMINAL_BAR_YEARS_OTHER": _env("RULE_CRIMINAL_BAR_YEARS_OTHER", 3, int),
    # The public register shows a public penalty record for this many years after its decision (our rule: the upper
    # bound of the "6 months to 3 years" publication period of the construction market credit rules, 建市〔2007〕9号).
    "PENALTY_PUBLIC_YEARS": _env("RULE_PENALTY_PUBLIC_YEARS", 3, int),
    # The officer who lodged a cancellation by the authority may also decide it (our rule: no, four eyes).
    "STARTER_MAY_DECIDE": _env("RULE_STARTER_MAY_DECIDE", False, bool),
    # The decision document of a cancellation by the authority (PDF or JPEG): at most this many megabytes.
    "DECISION_DOCUMENT_MAX_MB": _env("RULE_DECISION_DOCUMENT_MAX_MB", 10, int),
}

# --- Lifecycle: what the nightly jobs do on which dates (app/lifecycle.py; days before the date, our rules) -----
LIFECYCLE = {
    "UNCONFIRMED_REMIND_DAYS": (30, 7, 1),  # to the enterprise, before an unconfirmed application expires
    "SPECIALTY_REMIND_DAYS": (90, 30, 7),  # to the holder, before a specialty's valid-until date
    "AGE_LIMIT_REMIND_DAYS": (180, 90),  # to the holder, before the age limit
    "COPY_REMIND_DAYS": (14,),  # to the holder, before a downloaded certificate copy's printed validity ends
    "RETURNED_REMIND_DAYS": (7, 30),  # to the applicant, days after a return with no resubmission
    "STAGE_REMIND_WORKING_DAYS": 2,  # to the stage's holder, working days before its statutory limit
}
# The applicant may remind the enterprise holding their application once per this many hours (催办).
EMPLOYER_REMINDER_HOURS = _env("EMPLOYER_REMINDER_HOURS", 24, int)

# Messages (消息中心; app/notifications.py): kept this many days; SMS for what a person must act on, at most this
# many a day per person (the rest stay in the message centre); e-mail only when NOTIFY_EMAIL is on.
NOTIFICATION_KEEP_DAYS = _env("NOTIFICATION_KEEP_DAYS", 365, int)
NOTIFY_SMS_DAILY_CAP = _env("NOTIFY_SMS_DAILY_CAP", 3, int)
NOTIFY_EMAIL = _env("NOTIFY_EMAIL", False, bool)
MAIL_BACKEND = _env("MAIL_BACKEND", "app.services.mail.OutboxMailer")  # or app.services.mail.SmtpMailer
MAIL_SERVER = _env("MAIL_SERVER", "localhost")
MAIL_PORT = _env("MAIL_PORT", 25, int)
MAIL_USE_TLS = _env("MAIL_USE_TLS", False, bool)
MAIL_USERNAME = _env("MAIL_USERNAME", "")
MAIL_PASSWORD = _env("MAIL_PASSWORD", "")
MAIL_SENDER = _env("MAIL_SENDER", "noreply@jzs.example.gov.cn")
# The working-day calendar (app/services/workdays.py): from this month on, next year's holidays are expected and
# the administrator's home page flags a year with no data; each process re-reads the table this often.
CALENDAR_WARN_FROM_MONTH = _env("CALENDAR_WARN_FROM_MONTH", 11, int)
CALENDAR_CACHE_SECONDS = _env("CALENDAR_CACHE_SECONDS", 60, int)
# A downloaded electronic-certificate copy is valid this many days at most (our rule; reports/certificates.py).
CERTIFICATE_COPY_DAYS = _env("CERTIFICATE_COPY_DAYS", 180, int)
# The certificate signing keyring (app/services/signing.py): a folder shared by every host; default instance/signing_keys.
CERTIFICATE_SIGNING_KEYS = _env("CERTIFICATE_SIGNING_KEYS", "")
# Issuing authority printed on the electronic certificate.
CERTIFICATE_ISSUER = _env("CERTIFICATE_ISSUER", "中华人民共和国住房和城乡建设部")
# The public address of this platform (e.g. https://jzs.example.gov.cn): certificate QR codes point there,
# not at whichever intranet host served the download. Empty: the requesting host.
PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "")

# Statutory time limit of each stage, in working days, per business type (DOMAIN.md "Pipelines").
# Keys are business type codes and workflow stage names (app/workflow.py). industry_review: 10 (Reg-153 Art. 9: the
# department concerned reviews within 10 days of receiving the materials; our rule: counted in working days).
STAGE_TIME_LIMITS = {
    "initial": {"enterprise_review": 5, "province_review": 20, "industry_review": 10, "ministry_review": 20},
    "re_registration": {"enterprise_review": 5, "province_review": 20, "industry_review": 10, "ministry_review": 20},
    "add_specialty": {"enterprise_review": 5, "province_review": 20, "industry_review": 10, "ministry_review": 20},
    "change": {"enterprise_review": 5, "province_review": 5, "ministry_review": 10},
    "renewal": {"enterprise_review": 5, "province_review": 5, "ministry_review": 10},
    "cancellation": {"enterprise_review": 5, "province_review": 5, "ministry_review": 10},
    "replacement": {"ministry_review": 5},
    "info_change": {"province_review": 5, "ministry_review": 10},
    # Started by others (issue 17): the cancellation's limits (DOMAIN: province 5, ministry 10 working days).
    "cancel_by_employer": {"province_review": 5, "ministry_review": 10},
    "cancel_by_authority": {"ministry_review": 10},
}

# --- Background jobs (Celery workers and beat; app/jobs.py, ops/schedule.py, docs/OPERATIONS.md) -----------
# Production: redis://HOST:6379/0 (or amqp://USER:PASS@HOST:5672// for RabbitMQ). The embedded default is kombu's
# SQLAlchemy transport on a SQLite file beside the database: one machine, no extra service.
CELERY_BROKER_URL = _env("CELERY_BROKER_URL", f"sqla+sqlite:///{INSTANCE_DIR / 'broker.db'}")
# A prefix on every Redis key of the broker (kombu's global_keyprefix): several deployments, or test runs, can share
# one Redis without taking each other's messages. Empty: none.
CELERY_KEY_PREFIX = _env("CELERY_KEY_PREFIX", "")
JOBS_EAGER = _env("JOBS_EAGER", False, bool)  # run each job inside the request that starts it (tests only)
JOB_RESULT_FOLDER = _env("JOB_RESULT_FOLDER", str(INSTANCE_DIR / "job_results"))
JOB_RESULT_DAYS = _env("JOB_RESULT_DAYS", 7, int)  # result files are deleted this many days after the job ends
JOB_TIME_LIMIT_SECONDS = _env("JOB_TIME_LIMIT_SECONDS", 3 * 3600, int)  # one job's run, then it is stopped
JOB_STALE_SECONDS = _env("JOB_STALE_SECONDS", 120, int)  # a running job silent this long has lost its worker
JOB_MAX_ATTEMPTS = _env("JOB_MAX_ATTEMPTS", 3, int)  # runs of one job (lost workers, database hiccups)
JOBS_ACTIVE_PER_USER = _env("JOBS_ACTIVE_PER_USER", 5, int)  # jobs one person may have waiting or running at once
CERTIFICATES_PER_PART = _env("CERTIFICATES_PER_PART", 100, int)  # batch printing: certificates per rendered part
BACKUP_FOLDER = _env("BACKUP_FOLDER", str(INSTANCE_DIR / "backups"))  # scheduled backups (ops/schedule.py)
SCHEDULE_BACKUP = _env("SCHEDULE_BACKUP", False, bool)  # a nightly backup by the scheduler

# --- Object storage (app/services/storage/, docs/OPERATIONS.md "Object storage") ------------------------------------
# "local" (embedded default): attachments/ under UPLOAD_FOLDER, jobs/ under JOB_RESULT_FOLDER, backups/ under
# BACKUP_FOLDER, other areas under STORAGE_FOLDER. "s3": one private bucket shared by every web host and worker;
# credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or STORAGE_S3_ACCESS_KEY / STORAGE_S3_SECRET_KEY.
STORAGE_BACKEND = _env("STORAGE_BACKEND", "local")
STORAGE_FOLDER = _env("STORAGE_FOLDER", str(INSTANCE_DIR / "storage"))
STORAGE_S3_BUCKET = _env("STORAGE_S3_BUCKET", "")
STORAGE_S3_ENDPOINT_URL = _env("STORAGE_S3_ENDPOINT_URL", None)  # None: AWS; else e.g. http://minio:9000
STORAGE_S3_REGION = _env("STORAGE_S3_REGION", "us-east-1")
STORAGE_S3_PREFIX = _env("STORAGE_S3_PREFIX", "")  # keys under this prefix (several deployments, one bucket)
STORAGE_S3_ACCESS_KEY = _env("STORAGE_S3_ACCESS_KEY", None)
STORAGE_S3_SECRET_KEY = _env("STORAGE_S3_SECRET_KEY", None)

# --- Applicant self-service (issue 3) -------------------------------------------------------
# Uploads: every image is decoded and re-encoded by Pillow (app/services/images.py).
UPLOAD_MAX_BYTES = _env("UPLOAD_MAX_BYTES", 8 * 1024 * 1024, int)  # one uploaded file, before processing
UPLOAD_MAX_PIXELS = _env("UPLOAD_MAX_PIXELS", 40_000_000, int)  # larger images are refused (decompression bombs)
# Statistics snapshots stay fresh this long (reports/snapshots.py, computed by a job); 0 = computed on each request.
STATISTICS_CACHE_SECONDS = _env("STATISTICS_CACHE_SECONDS", 600, int)
# List pages stop counting rows here and show "10,000+" (views/interface.py); 0 counts everything.
LIST_COUNT_CAP = _env("LIST_COUNT_CAP", 10_000, int)
# The province roster PDF (a job) is rendered in parts of this many rows, merged into one file (flat memory).
ROSTER_PDF_ROWS_PER_PART = _env("ROSTER_PDF_ROWS_PER_PART", 2_000, int)
PHOTO_SIZE_PX = (295, 413)  # 1-inch ID photo: 25 x 35 mm at 300 dpi
PHOTO_MAX_BYTES = _env("PHOTO_MAX_BYTES", 60 * 1024, int)  # the processed photo is compressed under this
PHOTO_MIN_BACKGROUND_LIGHTNESS = _env("PHOTO_MIN_BACKGROUND_LIGHTNESS", 180, int)  # 0-255, mean of the border
SCAN_MAX_SIDE_PX = _env("SCAN_MAX_SIDE_PX", 2000, int)  # ID scans and signature are scaled down to this

# SMS: the gateway is a pluggable class (app/services/sms.py); the default writes to the outbox table.
SMS_BACKEND = _env("SMS_BACKEND", "app.services.sms.OutboxGateway")
SMS_CODE_TTL_SECONDS = _env("SMS_CODE_TTL_SECONDS", 300, int)
SMS_CODE_MAX_ATTEMPTS = _env("SMS_CODE_MAX_ATTEMPTS", 5, int)
SMS_RESEND_SECONDS = _env("SMS_RESEND_SECONDS", 60, int)  # one code per number per this many seconds
SMS_DAILY_CAP = _env("SMS_DAILY_CAP", 10, int)  # codes per number per day

# Image captcha: drawn with Pillow; the answer stays on the server (a keyed hash), single use.
CAPTCHA_TTL_SECONDS = _env("CAPTCHA_TTL_SECONDS", 300, int)
CAPTCHA_LENGTH = _env("CAPTCHA_LENGTH", 4, int)
CAPTCHA_RATE_LIMIT = _env("CAPTCHA_RATE_LIMIT", "30 per minute")  # per address: GET /captcha/new and its images
CAPTCHA_MAX_PER_CLIENT = _env("CAPTCHA_MAX_PER_CLIENT", 60, int)  # live (unanswered, unexpired) per address
CAPTCHA_MAX_LIVE = _env("CAPTCHA_MAX_LIVE", 20000, int)  # live in all: the table's bound

# Login protection (HTML and API login alike).
LOGIN_MAX_FAILURES = _env("LOGIN_MAX_FAILURES", 5, int)  # consecutive failures that lock the account
LOGIN_LOCK_MINUTES = _env("LOGIN_LOCK_MINUTES", 30, int)  # the lock lifts by itself after this time
AUTH_RATE_LIMITED = True
RATELIMIT_ENABLED = _env("RATELIMIT_ENABLED", True, bool)
AUTH_RATE_LIMIT = _env("AUTH_RATE_LIMIT", "20 per minute")  # per client address, login and sign-up posts
PUBLIC_RATE_LIMIT = _env("PUBLIC_RATE_LIMIT", "60 per minute")  # per address: certificate verification, public register
# The limits are counted in Redis whenever REDIS_URL is set, so every worker and host counts together (per-process
# memory would let N workers allow N times the limit); an explicit RATELIMIT_STORAGE_URI wins; else memory://
# (one process only, development). docs/OPERATIONS.md "Rate limits across workers and hosts".
REDIS_URL = _env("REDIS_URL")
RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", REDIS_URL or "memory://")
RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "registry")  # several deployments can share one Redis
# Redis down: each process counts in its own memory (one warning in the log) instead of answering 500, and goes
# back to Redis when it answers again (Flask-Limiter retries it with a back-off of up to ~30 s).
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = _env("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True, bool)
RATELIMIT_SWALLOW_ERRORS = _env("RATELIMIT_SWALLOW_ERRORS", True, bool)  # any other storage error: log, let through
# An unreachable Redis (a host that does not answer) costs a request at most this long, not a hanging worker.
RATELIMIT_REDIS_TIMEOUT_SECONDS = _env("RATELIMIT_REDIS_TIMEOUT_SECONDS", 0.5, float)
RATELIMIT_STORAGE_OPTIONS = ({"socket_connect_timeout": RATELIMIT_REDIS_TIMEOUT_SECONDS,
                              "socket_timeout": RATELIMIT_REDIS_TIMEOUT_SECONDS}
                             if RATELIMIT_STORAGE_URI.startswith("redis") else {})

# Password rules for self-registration and password change.
PASSWORD_MIN_LENGTH = _env("PASSWORD_MIN_LENGTH", 8, int)

# Real-name verification: a pluggable online provider (app/services/realname.py).
# The social-insurance data source of the conflict check (app/services/social_insurance.py): the simulator, or
# app.services.social_insurance.CsvSource (records imported from the insurance authority's CSV files).
SOCIAL_INSURANCE_SOURCE = _env("SOCIAL_INSURANCE_SOURCE", "app.services.social_insurance.SimulatorSource")
# The simulator shows a different payer for every Nth registered person (by a hash of the ID number); 0: never.
SOCIAL_INSURANCE_SIMULATOR_EVERY = _env("SOCIAL_INSURANCE_SIMULATOR_EVERY", 25, int)
REALNAME_PROVIDER = _env("REALNAME_PROVIDER", "app.services.realname.SimulatorProvider")
REALNAME_SESSION_MINUTES = _env("REALNAME_SESSION_MINUTES", 10, int)

# Password given to every demo account by `flask demo-data` (development only).
DEMO_PASSWORD = _env("DEMO_PASSWORD", "Demo@2026")

# --- Sessions and production hardening (views/shell/sessions.py, views/shell/headers.py) ------------------------------
SESSION_IDLE_MINUTES = _env("SESSION_IDLE_MINUTES", 30, int)  # signed out after this long without a request
SESSION_LIFETIME_HOURS = _env("SESSION_LIFETIME_HOURS", 12, int)  # and after this long in all, however active
PERMANENT_SESSION_LIFETIME = SESSION_LIFETIME_HOURS * 3600  # the cookie itself expires then too
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"
FORCE_HTTPS = _env("FORCE_HTTPS", PRODUCTION, bool)
JWT_ACCESS_TOKEN_EXPIRES = _env("JWT_ACCESS_TOKEN_MINUTES", 15, int) * 60  # API tokens (seconds)
JWT_REFRESH_TOKEN_EXPIRES = SESSION_LIFETIME_HOURS * 3600
# Reverse proxies in front of the app (nginx …): their X-Forwarded-For/-Proto are trusted, so audit rows get the
# client's address and HTTPS is recognised. 0 = the app faces clients directly.
TRUSTED_PROXIES = _env("TRUSTED_PROXIES", 0, int)

# --- Logs (ground/logs.py, views/shell/request_log.py, docs/OPERATIONS.md "Logs and request ids") ------------------
# "json": every line one JSON object (time, level, logger, message, request_id, user_id, roles, job_id; the access
# line adds endpoint, method, path, status, duration_ms); "text": one readable line. Production defaults to json.
LOG_FORMAT = _env("LOG_FORMAT", "json" if PRODUCTION else "text").lower()
LOG_LEVEL = _env("LOG_LEVEL", "INFO").upper()

# --- Health checks (views/health.py, docs/OPERATIONS.md) -----------------------------------------------------------
# GET /healthz is open to everyone (load balancers). GET /readyz reports the database, broker, Redis and storage; it
# answers only requests from these addresses or networks (comma-separated, e.g. "127.0.0.1,::1,10.0.5.0/24"; the
# address seen after TRUSTED_PROXIES) or carrying `Authorization: Bearer <HEALTH_TOKEN>`; anyone else gets 404.
HEALTH_ALLOW = [a.strip() for a in _env("HEALTH_ALLOW", "127.0.0.1,::1").split(",") if a.strip()]
HEALTH_TOKEN = _env("HEALTH_TOKEN", "")  # empty: no token is accepted
# Redis used by the platform besides the broker (checked by /readyz when set), e.g. redis://127.0.0.1:6379/1.
REDIS_URL = _env("REDIS_URL", "")

# --- Shared cache (ground/cache.py, docs/OPERATIONS.md "Shared cache") ------------------------------------------------
# Redis whenever REDIS_URL (or CACHE_REDIS_URL) is set, so every worker and host shares one cache; else SimpleCache,
# one process's memory (the embedded default). A Redis outage: values are computed instead (one warning in the log)
# and the cache is asked again after CACHE_RETRY_SECONDS.
CACHE_REDIS_URL = _env("CACHE_REDIS_URL", REDIS_URL)
CACHE_TYPE = _env("CACHE_TYPE", "RedisCache" if CACHE_REDIS_URL else "SimpleCache")
CACHE_KEY_PREFIX = _env("CACHE_KEY_PREFIX", "registry:")  # several deployments can share one Redis
CACHE_DEFAULT_TIMEOUT = _env("CACHE_DEFAULT_TIMEOUT", 300, int)
DICTIONARY_CACHE_SECONDS = _env("DICTIONARY_CACHE_SECONDS", 3600, int)  # province and specialty labels
CACHE_RETRY_SECONDS = _env("CACHE_RETRY_SECONDS", 30, int)
CACHE_REDIS_TIMEOUT_SECONDS = _env("CACHE_REDIS_TIMEOUT_SECONDS", 0.5, float)  # an unreachable Redis costs this much

# --- Technical support (技术支持): every page's footer, the login page and the help page (views/help.py) -----
# Placeholders for the demo: set the real hotline, hours, address and site for a deployment. Phones are a
# comma-separated list; hours and address have an optional English text (…_EN) shown on English pages.
SUPPORT_PHONES = [p.strip() for p in _env("SUPPORT_PHONES", "010-00000000, 400-000-0000").split(",") if p.strip()]
SUPPORT_HOURS = _env("SUPPORT_HOURS", "工作日 9:00–12:00，13:30–17:00（法定节假日除外）")
SUPPORT_HOURS_EN = _env("SUPPORT_HOURS_EN", "Working days 9:00–12:00 and 13:30–17:00 (Beijing time)")
SUPPORT_ADDRESS = _env("SUPPORT_ADDRESS", "北京市西城区示例路1号 注册中心服务大厅")
SUPPORT_ADDRESS_EN = _env("SUPPORT_ADDRESS_EN", "Service hall, 1 Example Road, Xicheng District, Beijing")
SUPPORT_SITE = _env("SUPPORT_SITE", "https://jzs.example.gov.cn")
SUPPORT_EMAIL = _env("SUPPORT_EMAIL", "")  # shown when set, e.g. support@jzs.example.gov.cn
