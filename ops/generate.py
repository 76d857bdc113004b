"""Realistic national-scale data for benchmarks and demos (`flask generate-data`, `generate()`).

Fills a set-up database (schema, dictionaries, roles) with enterprises, persons, qualifications,
registrations with per-specialty validity, certificates, announcement batches and applications of all
eight business types in every state, each with the transition log that led there. Nothing goes through
the ORM (so no audit rows: bulk data is nobody's action), but nothing restates the engine either: every
step of a history is the transition of app/workflow.py that makes it (action, role, what kind of stage it
leaves), numbers and counter names come from app/services/numbering.py, validity periods from
app/services/validity.py, deadlines from app/services/workdays.py, certificates follow each type's
certificate policy. What a type's approval changes is one filler per type (FILLERS), mirroring
app/effects.py on day numbers. One open application per person; counters raised past every serial used.
tests/app/test_generate_replay.py walks every generated history through the engine's table.

Time: applications are created over the last two years up to now; registrations go back ten years
(older ones came from the previous system, without applications here).

PostgreSQL: COPY through psycopg 3 from a writer thread while the next chunk is generated, all in one
transaction; for big loads the secondary indexes and foreign keys of the loaded tables are dropped first
and recreated (so re-validated) before the commit, then the tables are analysed. SQLite: executemany
inserts (small scale, tests).
"""
from __future__ import annotations

import bisect
import itertools
import json
import math
import queue
import random
import sys
import threading
import time
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

from faker.providers.person.zh_CN import Provider as _FakerNames
from faker.providers.phone_number.zh_CN import Provider as _FakerPhones
from flask import current_app, has_app_context
from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, text
from sqlalchemy.engine import Connection, Engine

from app.services.numbering import (announcement_counter, application_counter, certificate_counter,
                                    format_application_number, format_certificate_number,
                                    format_registration_digits, format_registration_number, registration_counter)
from app.services.validity import renewed_period, validity_end
from app.services.workdays import add_working_days, is_workday
from app.workflow import BUSINESS_TYPES, TRANSITIONS, acting_role, is_system, states_of
from ground import roles as R
from ground.clock import now_utc
from ground.identifiers import make_credit_code
from ground.vocabulary import EDITABLE_STATES, FINAL_STATES, State
from models import Model
from models.dictionary import PROVINCES, SPECIALTIES

# --- Distributions ------------------------------------------------------------------------------
# Relative number of registered constructors per province (bigger construction markets weigh more).
PROVINCE_WEIGHTS = {
    "11": 4.0, "12": 1.5, "13": 3.5, "14": 1.8, "15": 1.2, "21": 2.2, "22": 1.0, "23": 1.2, "31": 3.5,
    "32": 10.5, "33": 8.5, "34": 4.0, "35": 4.5, "36": 2.5, "37": 7.0, "41": 5.5, "42": 5.5, "43": 4.0,
    "44": 8.0, "45": 2.0, "46": 0.6, "50": 3.0, "51": 6.0, "52": 1.8, "53": 2.2, "54": 0.2, "61": 3.0,
    "62": 1.0, "63": 0.3, "64": 0.4, "65": 1.2,
}
# Staff user names follow the demo's (province-bj, enterprise-<id>, ministry): ISO 3166-2:CN codes.
PROVINCE_ISO = {
    "11": "bj", "12": "tj", "13": "he", "14": "sx", "15": "nm", "21": "ln", "22": "jl", "23": "hl", "31": "sh",
    "32": "js", "33": "zj", "34": "ah", "35": "fj", "36": "jx", "37": "sd", "41": "ha", "42": "hb", "43": "hn",
    "44": "gd", "45": "gx", "46": "hi", "50": "cq", "51": "sc", "52": "gz", "53": "yn", "54": "xz", "61": "sn",
    "62": "gs", "63": "qh", "64": "nx", "65": "xj",
}
SPECIALTY_WEIGHTS = {"building": 45, "municipal": 20, "mechanical": 12, "highway": 8, "water": 6, "mining": 2.5,
                     "railway": 2.5, "telecom": 2, "port": 1.5, "airport": 0.5}
MAJORS = {
    "building": ("土木工程", "工程管理", "建筑学"), "municipal": ("给排水科学与工程", "土木工程", "道路桥梁与渡河工程"),
    "mechanical": ("机械设计制造及其自动化", "电气工程及其自动化", "建筑环境与能源应用工程"),
    "highway": ("道路桥梁与渡河工程", "交通工程"), "water": ("水利水电工程", "水文与水资源工程"),
    "mining": ("采矿工程",), "railway": ("铁道工程", "土木工程"), "telecom": ("通信工程", "电子信息工程"),
    "port": ("港口航道与海岸工程",), "airport": ("交通工程", "土木工程"),
}
SCHOOLS = ("同济大学", "清华大学", "东南大学", "重庆大学", "哈尔滨工业大学", "西南交通大学", "长安大学", "河海大学",
           "武汉大学", "华南理工大学", "中南大学", "天津大学", "湖南大学", "大连理工大学", "北京交通大学",
           "石家庄铁道大学", "兰州交通大学", "沈阳建筑大学", "山东建筑大学", "安徽建筑大学", "西安建筑科技大学",
           "苏州科技大学", "浙江工业大学", "武汉理工大学", "广州大学", "郑州大学", "河北工业大学", "昆明理工大学")
EDUCATION = (("bachelor", 56), ("college", 30), ("master", 9), ("secondary", 3), ("other", 1.5), ("doctorate", 0.5))
DEGREE_OF = {"bachelor": "bachelor", "master": "master", "doctorate": "doctor"}
GRADUATION_AGE = {"doctorate": 28, "master": 25, "bachelor": 22, "college": 21, "secondary": 19, "other": 20}
MINORITY_OF_PROVINCE = {"15": "02", "45": "08", "54": "04", "64": "03", "65": "05", "52": "06", "53": "07",
                        "22": "10", "21": "11", "43": "15", "42": "15"}
MINORITIES = ("03", "11", "08", "15", "06", "02", "12", "13")

REGISTERED_BEFORE_WINDOW = 0.55  # of registered persons: registered before the two-year window
RENEWAL_SHARE = 0.6  # of those: a renewal falls in the window
OPEN_PER_APPLICATION = 0.07  # share of applications still open (per person: this × applications per person)
OVERDUE_SHARE = 0.22  # of open applications in a stage with a time limit: past the statutory deadline

# Business types of the "extra" applications, by registration status (renewal and initial are structural).
EXTRA_TYPES = {
    "none": (("initial", 85), ("info_change", 15)),
    "active": (("change", 18), ("add_specialty", 17), ("replacement", 15), ("info_change", 14),
               ("cancellation", 12), ("cancel_by_employer", 4), ("cancel_by_authority", 1)),
    "cancelled": (("re_registration", 80), ("info_change", 20)),
}
# Types whose approval cancels the registration.
CANCELLING = ("cancellation", "cancel_by_employer", "cancel_by_authority")
# Final outcome of a finished application: completed, refused, withdrawn.
OUTCOMES = {
    "initial": (90, 5, 5), "renewal": (93, 3, 4), "change": (88, 5, 7), "add_specialty": (88, 6, 6),
    "cancellation": (95, 1, 4), "re_registration": (88, 6, 6), "replacement": (96, 1, 3), "info_change": (92, 3, 5),
    # Lodged by others: never withdrawn (nobody may), refused when the person did not leave or the ground fails.
    "cancel_by_employer": (92, 8, 0), "cancel_by_authority": (85, 15, 0),
}
# What those lodged by others say (app/business_types/cancel_by_others.py).
EMPLOYER_CANCELLATION_TEXTS = ("劳动合同期满，本人不再续签，已办理离职手续。", "本人申请辞职，劳动合同已解除。",
                               "单位与本人协商一致解除劳动合同。")
AUTHORITY_GROUNDS_WEIGHTS = (("revoked_by_law", 50), ("obtained_by_fraud", 25), ("employer_licence_revoked", 10),
                             ("death_or_incapacity", 10), ("other", 5))
AUTHORITY_TEXTS = {"revoked_by_law": "依据行政处罚决定，依法撤销注册。",
                   "obtained_by_fraud": "经查，以提供虚假材料等不正当手段取得注册，依法撤销。",
                   "employer_licence_revoked": "聘用单位营业执照被吊销，依法注销注册。",
                   "death_or_incapacity": "本人死亡或丧失民事行为能力，依法注销注册。",
                   "other": "依法注销注册。"}
OPEN_STATE_WEIGHTS = {State.DRAFT: 10, State.RETURNED: 8, State.ENTERPRISE: 22, State.RELEASE: 3, State.PROVINCE: 30,
                      State.INDUSTRY: 3, State.MINISTRY: 18, State.ANNOUNCE: 8, State.ISSUE: 4}
EXPIRED_SHARE = 0.5  # percent of finished applications the employer never confirmed (they expired)
WITHDRAW_FROM = {State.DRAFT: 20, State.RETURNED: 15, State.ENTERPRISE: 35, State.RELEASE: 2, State.PROVINCE: 30}
_WITHDRAW_ORDER = list(WITHDRAW_FROM)  # sampling order (the engine says where withdrawing is possible)
REFUSAL_WEIGHTS = (("not_qualified", 28), ("contract_invalid", 18), ("continuing_education", 15),
                   ("dual_employment", 14), ("materials_false", 10), ("other", 8), ("penalty", 5), ("over_age", 2))
CANCELLATION_WEIGHTS = (("contract_ended", 55), ("registration_expired", 12), ("other", 11),
                        ("employer_bankrupt", 6), ("employer_qualification_revoked", 5),
                        ("employer_licence_revoked", 4), ("revoked_by_law", 3), ("over_age", 2),
                        ("death_or_incapacity", 2))

# --- Texts --------------------------------------------------------------------------------------
PASS_OPINIONS = ("材料齐全，符合条件。", "经审查，符合注册条件，同意上报。", "资料完整，予以通过。", "同意。")
# Opinions written with a move: (share of moves that carry one, sample texts); a move the engine requires an
# opinion for always has one. Approvals say what was approved; refusals give their coded reason's text.
OPINIONS = {"withdraw": (0.5, ("个人原因，申请撤回。",)), "confirm": (0.5, ("情况属实，同意上报。",)),
            "pass": (1, PASS_OPINIONS)}
APPROVE_OPINIONS = {"initial": "同意注册。", "re_registration": "同意重新注册。", "add_specialty": "同意增项注册。",
                    "change": "同意变更注册。", "renewal": "同意延续注册。", "cancellation": "同意注销注册。",
                    "replacement": "同意更换证书。", "info_change": "同意变更个人信息。",
                    "cancel_by_employer": "同意注销注册。", "cancel_by_authority": "同意依法注销（撤销）注册。"}
# The industry department's opinion (opine): mostly agreeing.
INDUSTRY_OPINION_TEXTS = {"agree": "经审核，同意注册。", "disagree": "经审核，申请人专业工程业绩不足，不同意注册。"}
RETURN_OPINIONS = ("劳动合同起始日期与社保记录不一致，请核对后重新提交。", "身份证扫描件不清晰，请重新上传。",
                   "继续教育证明缺失，请补充。", "一寸照片背景不符合要求，请重新上传。",
                   "单位名称与营业执照不一致，请核对。", "社保缴纳证明缺失，请补充近三个月社保记录。",
                   "劳动合同未加盖单位公章，请补充。")
OPINIONS["return"] = (1, RETURN_OPINIONS)
REFUSAL_TEXTS = {
    "not_qualified": "经核查，申请人不具备相应专业的资格条件，不予注册。",
    "materials_false": "经核查，申报材料与实际情况不符，不予注册。",
    "contract_invalid": "劳动合同不在有效期内，不予注册。",
    "dual_employment": "经核查，申请人同时在两个单位申请注册，不予注册。",
    "continuing_education": "未完成规定的继续教育学时，不予注册。",
    "over_age": "申请人已超过注册年龄上限，不予注册。",
    "penalty": "申请人在行政处罚期内，不予注册。",
    "other": "不符合注册条件，不予注册。",
}
CANCELLATION_TEXTS = {"contract_ended": "劳动合同到期，不再续签。", "registration_expired": "注册有效期满未延续。",
                      "employer_bankrupt": "聘用单位破产。", "employer_qualification_revoked": "聘用单位资质被撤回。",
                      "employer_licence_revoked": "聘用单位营业执照被吊销。", "revoked_by_law": "依法撤销注册。",
                      "over_age": "年龄超过规定上限。", "death_or_incapacity": "本人丧失民事行为能力。",
                      "other": "个人原因申请注销。"}
REALNAME_NOTES = ("现场照片与身份证照片不符。", "身份证已过有效期。", "本人未到现场核验。")
BRANDS = ("华宇", "中天", "宏达", "鑫源", "恒泰", "建邦", "正和", "天成", "永安", "金盛", "隆基", "远大", "顺通",
          "广厦", "兴业", "宏图", "精诚", "嘉信", "众诚", "东方", "海川", "腾达", "新城", "瑞丰", "安泰", "华信",
          "国泰", "中联", "宏建", "通达", "长城", "弘毅", "昌盛", "九州", "汇通", "鼎盛", "博远", "信达", "泰和", "联创")
TRADES = ("建设", "建工", "路桥", "水利", "机电", "市政", "交通", "安装", "土木", "隧道", "港航", "城建", "建筑",
          "电力", "通信", "水电", "轨道", "钢构")
FORMS = ("集团有限公司", "工程有限公司", "有限公司", "股份有限公司", "有限责任公司", "工程集团有限公司")
ROADS = ("人民路", "建设路", "解放路", "中山路", "和平路", "新华路", "长江路", "黄河路", "胜利路", "文化路", "东风路",
         "迎宾大道", "青年路", "光明路", "幸福路", "复兴路", "科技路", "工业大道", "滨江路", "世纪大道")
EMAIL_DOMAINS = ("163.com", "qq.com", "126.com", "sina.com", "139.com")

# --- Tables and the columns written, in order ------------------------------------------------------
COLUMNS = {
    "announcement_batch": ("id", "title", "year", "sequence", "state", "published_on", "created_at"),
    "enterprise": ("id", "credit_code", "name", "province_code", "address", "legal_representative", "contact_phone",
                   "created_at", "updated_at"),
    "person": ("id", "id_number", "name", "gender", "birth_date", "ethnicity", "phone", "email", "education",
               "degree", "school", "graduation_date", "major", "realname_status", "realname_method",
               "realname_verified_at", "realname_requested_at", "realname_note", "realname_province_code",
               "created_at", "updated_at"),
    "qualification": ("id", "person_id", "certificate_no", "specialty_code", "qualified_on", "is_temporary",
                      "created_at", "updated_at"),
    "registration": ("id", "person_id", "number", "number_digits", "enterprise_id", "status",
                     "initial_province_code", "registered_on", "contract_start", "contract_end", "is_temporary",
                     "cancelled_on", "cancel_reason", "cancel_note", "created_at", "updated_at"),
    "registration_specialty": ("id", "registration_id", "specialty_code", "valid_from", "valid_until", "status"),
    "application": ("id", "number", "business_type", "person_id", "enterprise_id", "previous_enterprise_id",
                    "province_code", "registration_id", "state", "version", "submitted_at", "state_changed_at",
                    "stage_deadline", "last_opinion", "contract_start", "contract_end", "reason", "reason_text",
                    "new_name", "new_id_number", "pass_certificate_no", "announcement_id",
                    "created_at", "updated_at"),
    "application_specialty": ("application_id", "specialty_code"),
    "transition_log": ("id", "application_id", "action", "from_state", "to_state", "username", "role", "opinion",
                       "reason", "business_type", "province_code", "stage_days", "created_at"),
    "certificate": ("id", "number", "registration_id", "person_id", "application_id", "status", "issued_on",
                    "valid_until", "holder_name", "registration_number", "enterprise_name", "specialties",
                    "revoked_on", "revoke_reason", "created_at"),
}
# Load order (foreign keys point backwards).
TABLES = tuple(COLUMNS)
SERIAL_TABLES = tuple(t for t in TABLES if "id" in COLUMNS[t])

NULL = "\\N"  # COPY text format's NULL; rows are tuples of strings or ready tab-separated lines
_E, _P, _M, _A, _I = State.ENTERPRISE, State.PROVINCE, State.MINISTRY, State.ANNOUNCE, State.ISSUE
_IND = State.INDUSTRY
FINAL = FINAL_STATES
DAY = 86400
CST = 8 * 3600  # China Standard Time offset; timestamps are naive UTC
_EPOCH = date(1950, 1, 1)
_EPOCH_ORD = _EPOCH.toordinal()
_EPOCH_DT = datetime(1950, 1, 1)


# --- Paths: the engine's table, read once per (business type, source, target) -------------------------
class _Step(NamedTuple):
    """One move of an application's history, as app/workflow.py declares it."""

    action: str
    source: str
    target: str
    role: str  # who takes it (acting_role over all business roles)
    forward: bool  # along the type's pipeline (submission, confirmation, ..., issue)
    batch_only: bool  # published with an announcement batch
    auto: bool  # fires by itself on entering its source
    needs_opinion: bool
    coded_reason: bool  # the actor picks a coded reason (a refusal)


@lru_cache(maxsize=None)
def _step(code: str, source: str, target: str) -> _Step:
    """The one transition of the engine that leads an application of type `code` from `source` to `target`."""
    btype = BUSINESS_TYPES[code]
    found = [t for t in TRANSITIONS.values() if source in t.sources and target in t.targets_in(btype, source)
             and (is_system(t) or acting_role(t, source, R.BUSINESS_ROLES, btype))]  # the type's own starters
    if len(found) > 1:  # several roads (release, objection, silence): a person's move, as most histories go
        found = [t for t in found if not is_system(t)] or found
    if len(found) > 1:  # ... and the plain one among them
        found = [t for t in found if not t.needs_opinion][:1]
    if len(found) != 1:
        raise LookupError(f"{code}: {len(found)} transitions lead from {source} to {target}")
    t = found[0]
    return _Step(t.action, source, target, R.SYSTEM if is_system(t) else acting_role(t, source, R.BUSINESS_ROLES, btype),
                 target in btype.onward(source), t.batch_only, t.auto, t.needs_opinion, bool(t.reason_choices))


def _path_of(code: str, states) -> list[_Step]:
    """The engine's steps through a sequence of states (LookupError if one is not a legal move)."""
    return [_step(code, a, b) for a, b in itertools.pairwise(states)]


@lru_cache(maxsize=None)
def _states_leading_to(code: str, target: str) -> tuple[str, ...]:
    """States of the type (before completion) from which one move leads to `target`, in pipeline order."""
    btype = BUSINESS_TYPES[code]
    return tuple(s for s in (State.DRAFT, State.RETURNED, *btype.stages)
                 if any(s in t.sources and target in t.targets_in(btype, s) for t in TRANSITIONS.values()))


@lru_cache(maxsize=None)
def _stage_kinds(code: str) -> dict[str, str]:
    """How time passes in each stage of the type: "review" (a reviewer may send it back; deadlines),
    "batch" (left with an announcement batch) or "auto" (left by itself, e.g. the certificate issue)."""
    btype = BUSINESS_TYPES[code]
    returnable = set(_states_leading_to(code, State.RETURNED))
    kinds = {}
    for stage in btype.stages:
        forward = _step(code, stage, btype.next_stage(stage))
        kinds[stage] = ("review" if stage in returnable else
                        "batch" if forward.batch_only else "auto" if forward.auto else "review")
    return kinds


def _index(steps, source):
    """Index of the forward step out of `source` (None: the path never left it forward)."""
    return next((i for i, s in enumerate(steps) if s.source == source and s.forward), None)


# Approval is the ministry's forward move (app/effects.py's outcome runs there); the certificate is
# issued on leaving the issue stage.
APPROVAL_STAGE, CERTIFICATE_STAGE = State.MINISTRY, State.ISSUE


class _Random(random.Random):
    """random.Random with cheaper randrange/choice (float-based; plenty for synthetic data)."""

    def randrange(self, start, stop=None):
        if stop is None:
            start, stop = 0, start
        return start + int(self.random() * (stop - start))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]


def _weighted(pairs):
    """(values, cumulative weights) for bisect sampling."""
    values = [v for v, _ in pairs]
    return values, list(itertools.accumulate(w for _, w in pairs))


def _dn(d: date) -> int:
    return d.toordinal() - _EPOCH_ORD


def _date(n: int) -> date:
    return date.fromordinal(n + _EPOCH_ORD)


def _region_codes():
    """From python-stdnum's GB/T 2260 table: per province, county codes with the years each was valid and
    current county names; prefecture names by code (for addresses)."""
    counties, cities, names = {}, {}, {}
    province = None
    text_ = (resources.files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    for line in text_.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        code, _, value = line.strip().partition(" ")
        label = value.partition("=")[2].strip('"')
        if province not in PROVINCE_WEIGHTS:
            continue
        spans, current = [], None
        for entry in label.split(","):
            if entry.startswith("["):
                years, _, name = entry[1:].partition("]")
                start, _, end = years.partition("-")
                spans.append((int(start or 0), int(end or 9999)))
                if not end:
                    current = name
            else:
                spans.append((0, 9999))
                current = entry
        full = province + code
        if code.endswith("00"):
            if code != "0000" and current and current not in ("市辖区", "县") and "直辖" not in current:
                cities[full] = current
            continue
        if current is None or current in ("市辖区", "县") or current.endswith("市区"):
            if current is None:
                counties.setdefault(province, []).append((full, spans))
            continue
        counties.setdefault(province, []).append((full, spans))
        names.setdefault(province, []).append((full, current))
    return counties, cities, names


def _short_province(name: str) -> str:
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# --- Sinks: where the rows go -----------------------------------------------------------------------
class _PgSink:
    """COPY ... FROM STDIN on the connection's own transaction, from a writer thread."""

    def __init__(self, dbapi_connection, stats):
        self.connection = dbapi_connection
        self.stats = stats
        self.queue = queue.Queue(maxsize=24)
        self.error = None
        self.thread = threading.Thread(target=self._run, name="generate-copy", daemon=True)
        self.thread.start()

    def put(self, table, rows):
        if self.error is not None:
            raise self.error
        if rows:
            lines = rows if rows[0].__class__ is str else ["\t".join(r) for r in rows]
            self.queue.put((table, len(rows), ("\n".join(lines) + "\n").encode()))

    def _run(self):
        cursor = self.connection.cursor()
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue  # drain, so the generating thread never blocks
            table, count, data = item
            started = time.perf_counter()
            try:
                with cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                    copy.write(data)
            except Exception as exc:  # re-raised in the generating thread
                self.error = exc
                continue
            self.stats.add(table, count, time.perf_counter() - started)

    def close(self):
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


class _CoreSink:
    """Core executemany inserts (SQLite and anything without COPY): values converted to column types."""

    def __init__(self, connection, stats):
        self.connection, self.stats = connection, stats
        self.converters = {}
        for table in TABLES:
            columns = Model.metadata.tables[table].c
            convert = []
            for name in COLUMNS[table]:
                kind = columns[name].type
                if isinstance(kind, Boolean):
                    convert.append(lambda v: v == "t")
                elif isinstance(kind, DateTime):
                    convert.append(datetime.fromisoformat)
                elif isinstance(kind, Date):
                    convert.append(date.fromisoformat)
                elif isinstance(kind, Integer):
                    convert.append(int)
                elif isinstance(kind, JSON):
                    convert.append(json.loads)
                else:
                    convert.append(None)
            self.converters[table] = (Model.metadata.tables[table], convert)

    def put(self, table, rows):
        if not rows:
            return
        started = time.perf_counter()
        model, convert = self.converters[table]
        names = COLUMNS[table]
        if rows[0].__class__ is str:  # preformatted COPY lines
            rows = [row.split("\t") for row in rows]
        values = [{n: (None if v == NULL else (f(v) if f else v)) for n, f, v in zip(names, convert, row, strict=True)}
                  for row in rows]
        self.connection.execute(model.insert(), values)
        self.stats.add(table, len(rows), time.perf_counter() - started)

    def close(self):
        pass


class _Stats:
    def __init__(self):
        self.rows = dict.fromkeys(TABLES, 0)
        self.seconds = dict.fromkeys(TABLES, 0.0)
        self.lock = threading.Lock()

    def add(self, table, count, seconds):
        with self.lock:
            self.rows[table] += count
            self.seconds[table] += seconds


# --- One person's story, one application's columns ------------------------------------------------------
class _Life:
    """A person while their applications are generated, in time order: what the approvals changed so far
    (employer, registration status, specialties' validity, the last certificate issue)."""

    __slots__ = ("pid", "province", "birth", "male", "id_number", "name", "kind", "quals", "initial_specs",
                 "qual_rows", "employer", "first_employer", "reg_id", "reg_s", "reg_status", "registered_on",
                 "specs", "reg_contract", "cancel", "last_issue", "revoked", "temporary")

    def __init__(self, pid, province, birth, male, id_number, name, kind, quals, initial_specs):
        self.pid, self.province, self.birth, self.male = pid, province, birth, male
        self.id_number, self.name, self.kind = id_number, name, kind
        self.quals, self.initial_specs = quals, initial_specs
        self.qual_rows = {}  # specialty code -> (day, qualification certificate number)
        self.specs = {}  # specialty code -> [valid_from, valid_until, status]
        self.employer = self.first_employer = None  # (id, province code, name)
        self.reg_id = self.reg_status = self.registered_on = None
        self.reg_s = NULL
        self.reg_contract = self.cancel = self.last_issue = None
        self.revoked = None  # (day, reason) the shown certificate was revoked, if it was
        self.temporary = False


class _Filing:
    """The columns of one application that its business type decides."""

    __slots__ = ("bt", "final", "cday", "end_day", "approve_day", "enterprise", "previous", "contract", "reason",
                 "reason_text", "new_name", "pass_no", "codes", "registration")

    def __init__(self, bt, final, cday, end_day, approve_day):
        self.bt, self.final, self.cday, self.end_day = bt, final, cday, end_day
        self.approve_day = approve_day  # day of the approval, None if not approved
        self.enterprise = self.previous = self.contract = self.reason = self.reason_text = None
        self.new_name = self.pass_no = self.registration = None
        self.codes = ()


# --- The generator -------------------------------------------------------------------------------------
class _Generator:
    """Generates the rows person by person; times are integer seconds (naive UTC) and days are integer
    day numbers, both counted from 1950-01-01, formatted through lookup tables."""

    def __init__(self, connection, persons, enterprises, per_person, registered_share, seed, settings):
        self.conn = connection
        self.n_persons, self.n_enterprises = persons, enterprises
        self.per_person, self.registered_share = per_person, registered_share
        self.rng = _Random(seed)
        self.validity = settings["RULES"]["VALIDITY_YEARS"]
        self.industry_on = bool(settings["RULES"].get("INDUSTRY_OPINION"))
        self.limits = settings["STAGE_TIME_LIMITS"]
        now = now_utc().replace(microsecond=0)
        self.now = int((now - _EPOCH_DT).total_seconds())
        self.today = (self.now + CST) // DAY
        self.window_start = self.now - 730 * DAY
        self._calendar()
        self._reference()
        self._existing()
        self.p_open = min(0.6, OPEN_PER_APPLICATION * per_person)
        self.structural = 1.0  # running mean of structural applications per person (for the extras' rate)
        self.made_persons = 0
        self.made_apps = 0
        self.uncovered = self._all_pairs()

    # -- set-up ---------------------------------------------------------------------------------
    def _calendar(self):
        last = _dn(date(2070, 12, 31))
        self.dates = [_date(n) for n in range(last)]
        self.ds = [d.isoformat() for d in self.dates]
        self.dsc = [d.replace("-", "") for d in self.ds]
        self.hms = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
        self.wd_base = self.today - 1500
        self.wd = [d for d in range(self.wd_base, self.today + 1) if is_workday(_date(d))]
        self.wd_last = []  # index in self.wd of the last working day on or before each day
        i = -1
        for d in range(self.wd_base, self.today + 1):
            while i + 1 < len(self.wd) and self.wd[i + 1] <= d:
                i += 1
            self.wd_last.append(max(i, 0))
        self.wd_span = len(self.wd_last) - 1

    def _reference(self):
        self.provinces = {code: (name, abbr) for code, name, _en, abbr in PROVINCES}
        self.prov_codes, self.prov_cw = _weighted([(c, PROVINCE_WEIGHTS.get(c, 0.5)) for c in self.provinces])
        self.spec_codes, self.spec_cw = _weighted([(c, SPECIALTY_WEIGHTS.get(c, 1)) for c, *_ in SPECIALTIES])
        self.spec_names = {code: name for code, name, *_ in SPECIALTIES}
        self.spec_order = {code: i for i, (code, *_) in enumerate(SPECIALTIES)}
        self.flagged = {code for code, _name, _en, industry in SPECIALTIES if industry}
        counties, cities, names = _region_codes()
        years = range(1962, 2001)
        self.id_regions = {}
        for code in self.provinces:
            by_year = []
            for year in years:
                # Hainan (1988) and Chongqing (1997) people born earlier carry Guangdong and Sichuan codes.
                for source in (code, {"46": "44", "50": "51"}.get(code, "11")):
                    ok = [full for full, spans in counties.get(source, ()) if any(a <= year <= b for a, b in spans)]
                    if ok:
                        break
                by_year.append(ok)
            self.id_regions[code] = by_year
        self.county_names = {c: names.get(c) or [(c + "0101", "市辖区")] for c in self.provinces}
        self.prefectures = cities
        self.short = {c: _short_province(n) for c, (n, _abbr) in self.provinces.items()}
        self.surnames, self.surname_cw = _weighted(list(_FakerNames.last_names.items()))  # with frequencies
        self.given_male = list(_FakerNames.first_names_male)
        self.given_female = list(_FakerNames.first_names_female)
        self.single_male = [n for n in self.given_male if len(n) == 1]
        self.single_female = [n for n in self.given_female if len(n) == 1]
        self.phone_prefixes = [str(p) for p in _FakerPhones.phonenumber_prefixes]
        self.edu_values, self.edu_cw = _weighted(EDUCATION)
        self.refusal_values, self.refusal_cw = _weighted(REFUSAL_WEIGHTS)
        self.cancel_values, self.cancel_cw = _weighted(CANCELLATION_WEIGHTS)
        self.extra_types = {status: _weighted(pairs) for status, pairs in EXTRA_TYPES.items()}
        self.ministry_users = ["ministry"] + [f"ministry-{i}" for i in range(2, 6)]
        self.province_users = {c: [f"province-{iso}"] + [f"province-{iso}-{i}" for i in (2, 3)]
                               for c, iso in PROVINCE_ISO.items()}

    def _existing(self):
        """Highest ids, counters and unique values already in the database (numbers continue after them)."""
        conn = self.conn
        self.next_id = {t: (conn.execute(text(f"SELECT MAX(id) FROM {t}")).scalar() or 0) + 1 for t in SERIAL_TABLES}
        self.counters = {name: value for name, value in conn.execute(text("SELECT name, value FROM counter"))}
        self.used_ids = {v for (v,) in conn.execute(text("SELECT id_number FROM person"))}
        self.used_credit = {v for (v,) in conn.execute(text("SELECT credit_code FROM enterprise"))}
        self.used_enterprise_names = {v for (v,) in conn.execute(text("SELECT name FROM enterprise"))}
        self.used_qualification = {v for (v,) in conn.execute(text("SELECT certificate_no FROM qualification"))}
        self.used_digits = {v for (v,) in conn.execute(text("SELECT number_digits FROM registration"))}
        self.used_cert = {v for (v,) in conn.execute(text("SELECT number FROM certificate"))}
        self.used_app = {v for (v,) in conn.execute(text("SELECT number FROM application WHERE number IS NOT NULL"))}
        self.serials = {}  # counter name -> last serial used by us
        self._years_memo = {}
        self._validity_memo = {}

    def _serial(self, name, used=None, fmt=None):
        value = self.serials.get(name) or self.counters.get(name, 0)
        if not used:
            self.serials[name] = value + 1
            return value + 1
        while True:
            value += 1
            if used is None or fmt(value) not in used:
                self.serials[name] = value
                return value

    def _take_id(self, table):
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def _all_pairs(self):
        """(business type, state) pairs still to produce; the first persons are steered to cover them."""
        pairs = {(code, state) for code, btype in BUSINESS_TYPES.items() for state in states_of(btype)}
        if self.registered_share >= 1:  # nobody without a registration could have one open before approval
            for state in (State.DRAFT, State.RETURNED, _E, _P, _M):
                pairs.discard(("initial", state))
        if self.registered_share <= 0:
            pairs = {p for p in pairs if p[0] in ("initial", "info_change")}
            pairs -= {("initial", State.COMPLETED), ("initial", _A), ("initial", _I), ("info_change", _I)}
        return pairs

    # -- small samplers --------------------------------------------------------------------------
    def _pick(self, values, cw):
        return values[bisect.bisect_right(cw, self.rng.random() * cw[-1])]

    def _name(self, male):
        rng = self.rng
        surname = self._pick(self.surnames, self.surname_cw)
        pool, singles = (self.given_male, self.single_male) if male else (self.given_female, self.single_female)
        if rng.random() < 0.55:
            return surname + rng.choice(singles) + rng.choice(singles)
        return surname + rng.choice(pool)

    def _phone(self):
        return f"{self.rng.choice(self.phone_prefixes)}{self.rng.randrange(100_000_000):08d}"

    def _applicant_time(self, day):
        return day * DAY - CST + self.rng.randrange(25200, 82800)

    def _ts(self, ts):
        return self.ds[ts // DAY] + " " + self.hms[ts % DAY]

    def _workday_back(self, ts, days):
        """A moment in office hours (08:30-17:30 China time) `days` working days before the day of `ts`
        (0: that day or the last working day before it), earlier than `ts`."""
        offset = (ts + CST) // DAY - self.wd_base
        if offset > self.wd_span:
            offset = self.wd_span
        i = self.wd_last[offset] - days if offset > 0 else 0
        t = self.wd[i if i > 0 else 0] * DAY - CST + 30600 + int(self.rng.random() * 32400)
        return t if t < ts else ts - 300 - int(self.rng.random() * 5100)

    def _dwell(self, business_type, state):
        """Working days spent in a review stage: mostly quick, sometimes over the statutory limit."""
        limit = self.limits.get(business_type, {}).get(state) or 10
        u = self.rng.random()
        if u < 0.08:
            return limit + 1 + int(self.rng.random() * limit * 0.8)
        return int(limit * u ** 1.6)

    def _batch_before(self, ts):
        """Index of the last published batch at or before `ts`, or -1."""
        return bisect.bisect_right(self.batch_times, ts) - 1

    # -- enterprises and batches ------------------------------------------------------------------
    def enterprises(self, sink):
        rng = self.rng
        rows, by_province = [], {}
        for i in range(self.n_enterprises):
            code = self.prov_codes[i] if i < len(self.prov_codes) and self.n_enterprises >= 31 else \
                self._pick(self.prov_codes, self.prov_cw)
            ent_id = self._take_id("enterprise")
            region, county = rng.choice(self.county_names[code])
            serial = 40_000_000 + ent_id
            credit = make_credit_code(region, serial)
            while credit in self.used_credit:
                serial += 1_000_003
                credit = make_credit_code(region, serial % 100_000_000)
            self.used_credit.add(credit)
            prefecture = self.prefectures.get(region[:4] + "00", "")
            city = prefecture[:-1] if prefecture.endswith("市") else ""
            for _ in range(20):
                prefix = city if city and rng.random() < 0.65 else self.short[code]
                trade = rng.choice(TRADES)
                form = rng.choice(FORMS)
                if trade in ("建设", "建工", "建筑") and form.startswith("工程"):
                    form = form[2:]
                name = prefix + rng.choice(BRANDS) + trade + form
                if name not in self.used_enterprise_names:
                    break
            else:
                name = f"{prefix}{rng.choice(BRANDS)}{trade}第{ent_id}工程有限公司"
            self.used_enterprise_names.add(name)
            province_name = self.provinces[code][0]
            address = f"{province_name}{prefecture}{county}{rng.choice(ROADS)}{rng.randrange(1, 999)}号"
            created = self._applicant_time(self.today - rng.randrange(800, 9000))
            stamp = self._ts(created)
            rows.append((str(ent_id), credit, name, code, address, self._name(rng.random() < 0.9), self._phone(),
                         stamp, stamp))
            weight = min(rng.paretovariate(1.2), 150.0)
            by_province.setdefault(code, ([], []))
            ids, cw = by_province[code]
            ids.append((ent_id, code, name))
            cw.append((cw[-1] if cw else 0) + weight)
        sink.put("enterprise", rows)
        self.ent_by_province = by_province
        self.ent_provinces = [c for c in self.prov_codes if c in by_province]
        self.ent_prov_cw = list(itertools.accumulate(PROVINCE_WEIGHTS.get(c, 0.5) for c in self.ent_provinces))
        return len(rows)

    def _enterprise(self, province=None, other_than=None):
        """(id, province, name) of an employer, in `province` when it has any."""
        for _ in range(5):
            if province is None or province not in self.ent_by_province:
                code = self._pick(self.ent_provinces, self.ent_prov_cw)
            else:
                code = province
            ids, cw = self.ent_by_province[code]
            found = self._pick(ids, cw)
            if other_than is None or found[0] != other_than:
                return found
            province = None if self.rng.random() < 0.3 else province
        return found

    def batches(self, sink):
        """Monthly published announcement batches over the window, and one being prepared."""
        rows = []
        first = _date(self.today - 900)
        month = date(first.year, first.month, 1)
        times, ids = [], []
        while True:
            day = _dn(month.replace(day=20))
            if day > self.today:
                break
            i = self.wd_last[day - self.wd_base]
            while i < len(self.wd) - 1 and self.wd[i] < day:
                i += 1
            ts = self.wd[i] * DAY - CST + 10 * 3600  # 10:00 China time
            if ts > self.now - 3600:
                break
            times.append(ts)
            month = (month + timedelta(days=32)).replace(day=1)
        for ts in times:
            batch_id = self._take_id("announcement_batch")
            year = int(self.ds[(ts + CST) // DAY][:4])
            sequence = self._serial(announcement_counter(year))
            rows.append((str(batch_id), f"一级建造师注册公告（{year}年第{sequence}批）", str(year), str(sequence),
                         "published", self.ds[(ts + CST) // DAY], self._ts(ts - 3 * DAY)))
            ids.append(batch_id)
        self.draft_batch = self._take_id("announcement_batch")
        rows.append((str(self.draft_batch), "一级建造师注册公告（待发布）", NULL, NULL, "draft", NULL,
                     self._ts(self.now - self.rng.randrange(3600, 5 * DAY))))
        self.batch_times, self.batch_ids = times, ids
        self.batch_users = [self.rng.choice(self.ministry_users[:2]) for _ in times]
        sink.put("announcement_batch", rows)
        return len(rows)

    # -- persons ----------------------------------------------------------------------------------
    def chunk(self, count, sink):
        """Generate `count` persons with everything that hangs off them and hand the rows to the sink."""
        out = {t: [] for t in TABLES if t not in ("enterprise", "announcement_batch")}
        for _ in range(count):
            self._person(out)
        for table, rows in out.items():  # in TABLES order: referenced rows first
            sink.put(table, rows)

    def _id_number(self, province, birth, male):
        rng = self.rng
        regions = self.id_regions[province][int(self.ds[birth][:4]) - 1962]
        compact = self.dsc[birth]
        while True:
            body = f"{rng.choice(regions)}{compact}{rng.randrange(500) * 2 + male:03d}"
            check = (1 - 2 * int(body, 13)) % 11
            number = body + ("X" if check == 10 else str(check))
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def _person(self, out):
        rng = self.rng
        pid = self._take_id("person")
        province = self._pick(self.prov_codes, self.prov_cw)
        birth = int(rng.triangular(_dn(date(1962, 1, 1)), _dn(date(2000, 12, 31)), _dn(date(1984, 6, 1))))
        birth_year = int(self.ds[birth][:4])
        male = rng.random() < 0.86
        id_number = self._id_number(province, birth, male)
        name = self._name(male)
        registered = rng.random() < self.registered_share
        if registered:
            kind = "P" if birth_year <= 1995 and rng.random() < REGISTERED_BEFORE_WINDOW else "W"
        else:
            kind = "U"
        primary = self._pick(self.spec_codes, self.spec_cw)
        quals = [primary]
        if rng.random() < 0.3:
            second = self._pick(self.spec_codes, self.spec_cw)
            if second != primary:
                quals.append(second)
        initial_specs = quals[:1] + (quals[1:] if rng.random() < 0.55 else [])
        # The extras' rate adapts so the total approaches persons × applications per person.
        deficit = self.per_person * self.made_persons - self.made_apps
        lam = max(0.0, self.per_person - self.structural + deficit / 200)
        n_extra = _poisson(rng, lam)
        open_flag = rng.random() < self.p_open or (bool(self.uncovered) and self.made_persons < 20_000)
        for attempt in range(4):
            plan = self._plan(kind, n_extra, open_flag, len(initial_specs))
            apps = self._schedule(plan, last_try=attempt == 3)
            if apps is not None:
                break
            n_extra = max(0, n_extra - 1 - attempt)
        structural = len(apps) - sum(1 for a in apps if a[5])
        self.structural += (structural - self.structural) / min(1000, self.made_persons + 10)
        self.made_persons += 1
        self.made_apps += len(apps)
        for bt, final, *_ in apps:
            self.uncovered.discard((bt, final))
        self._emit(out, pid, province, birth, male, id_number, name, kind, quals, initial_specs, apps)

    # -- the plan: which applications, in which order, ending how -----------------------------------
    def _outcome(self, bt):
        for state in (State.REFUSED, State.WITHDRAWN, State.EXPIRED, State.COMPLETED):
            if (bt, state) in self.uncovered:
                return state
        c, r_, _w = OUTCOMES[bt]
        u = self.rng.random() * 100
        if u >= 100 - EXPIRED_SHARE and State.ENTERPRISE in BUSINESS_TYPES[bt].stages:
            return State.EXPIRED
        return State.COMPLETED if u < c else (State.REFUSED if u < c + r_ else State.WITHDRAWN)

    def _failed(self, bt):
        for state in (State.REFUSED, State.EXPIRED):
            if (bt, state) in self.uncovered:
                return state
        return State.REFUSED if self.rng.random() < 0.45 else State.WITHDRAWN

    def _plan(self, kind, n_extra, open_flag, n_specs):
        """[business type, final state, is_extra] in time order; the last one may be open."""
        rng = self.rng
        plan = []
        status = "active" if kind == "P" else "none"
        if kind != "P":
            u = rng.random()
            n_pre = n_extra if kind == "U" else (0 if u < 0.85 else (1 if u < 0.98 else 2))
            for _ in range(n_pre):  # failed attempts (nobody unregistered completes an initial registration)
                bt = self._pick(*self.extra_types["none"])
                plan.append([bt, self._failed(bt) if bt == "initial" else self._outcome(bt), kind == "U"])
            if kind == "U":
                n_extra = 0
        anchor_open = (kind == "W" and open_flag and n_extra == 0
                       and (rng.random() < 0.25 or ("initial", _A) in self.uncovered
                            or ("initial", _I) in self.uncovered))
        if kind == "W":
            if anchor_open:
                state = _A if ("initial", _A) in self.uncovered or rng.random() < 0.65 else _I
                plan.append(["initial", state, False])
                return plan
            plan.append(["initial", State.COMPLETED, False])
            status = "active"
        renew = kind == "P" and rng.random() < RENEWAL_SHARE
        for k in range(n_extra):
            if renew and status == "active" and rng.random() * (n_extra - k + 1) < 1:
                plan.append(["renewal", self._outcome("renewal"), False])
                renew = False
            bt = self._extra_type(status, n_specs)
            outcome = self._outcome(bt)
            if bt == "cancellation" and self._wants("re_registration"):
                outcome = State.COMPLETED
            plan.append([bt, outcome, True])
            if outcome == State.COMPLETED:
                if bt in CANCELLING:
                    status = "cancelled"
                elif bt == "re_registration":
                    status, renew = "active", False
                elif bt == "add_specialty":
                    n_specs += 1
        if renew and status == "active" and not (open_flag and rng.random() < 0.4):
            plan.append(["renewal", self._outcome("renewal"), False])
            renew = False
        if open_flag:
            if status == "active" and self._wants_open("re_registration"):
                plan.append(["cancellation", State.COMPLETED, False])
                status = "cancelled"
            plan.append(self._open(kind, status, renew, n_specs))
        return plan

    def _wants(self, bt):
        return any(p[0] == bt for p in self.uncovered)

    def _wants_open(self, bt):
        return any(p[0] == bt and p[1] not in FINAL for p in self.uncovered)

    def _extra_type(self, status, n_specs):
        """Business type of an extra application by registration status (active or cancelled)."""
        if status == "active" and self._wants("re_registration"):
            return "cancellation"
        if status == "active":
            for bt in ("replacement", "change", "add_specialty", "info_change", "cancellation", "cancel_by_employer",
                       "cancel_by_authority"):
                if any(p[0] == bt and p[1] in FINAL for p in self.uncovered) and (bt != "add_specialty" or n_specs < 3):
                    return bt
        values, cw = self.extra_types[status]
        bt = self._pick(values, cw)
        if bt == "add_specialty" and n_specs >= 3:
            bt = "change"
        return bt

    def _open(self, kind, status, renew, n_specs):
        """[business type, state] of the application a person has open now."""
        rng = self.rng
        if status == "none":
            options = ["initial", "info_change"] if kind == "U" else ["info_change"]
        elif status == "active":
            options = ["change", "add_specialty", "cancellation", "replacement", "info_change", "cancel_by_employer",
                       "cancel_by_authority"]
            if renew:
                options.append("renewal")
            if n_specs >= 3:
                options.remove("add_specialty")
        else:
            options = ["re_registration", "info_change"]

        def states(bt):
            if BUSINESS_TYPES[bt].started_by_staff:  # lodged at once; never back with anyone
                return list(BUSINESS_TYPES[bt].stages)
            allowed = [State.DRAFT, State.RETURNED, *BUSINESS_TYPES[bt].stages]
            if status != "active" and bt != "re_registration":  # nothing would hold these up
                allowed = [s for s in allowed if s not in (_A, _I)]
            return allowed

        wanted = [(bt, s) for bt in options for s in states(bt) if (bt, s) in self.uncovered]
        if wanted:
            bt, state = rng.choice(wanted)
            return [bt, state, False]
        if status == "none":
            bt = "initial" if kind == "U" and rng.random() < 0.85 else "info_change"
        elif status == "active":
            bt = "renewal" if renew and rng.random() < 0.5 else self._extra_type("active", n_specs)
            if bt not in options:
                bt = "change"
        else:
            bt = "re_registration" if rng.random() < 0.8 else "info_change"
        allowed = states(bt)
        weights = list(itertools.accumulate(OPEN_STATE_WEIGHTS[s] for s in allowed))
        return [bt, allowed[bisect.bisect_right(weights, rng.random() * weights[-1])], False]

    # -- paths and times ---------------------------------------------------------------------------
    def _path(self, bt, final):
        """The engine's steps that lead a new draft to `final`, returns included: the states are chosen
        here, each move between two of them is the transition of app/workflow.py that makes it."""
        rng = self.rng
        btype = BUSINESS_TYPES[bt]
        # Conditional stages (the industry opinion) only where the application ends; _application splices them
        # in once its specialties are chosen (_through_conditional).
        stages = tuple(s for s in btype.stages if s not in btype.conditions or s == final)
        if final == State.DRAFT:
            return []
        where = None
        if final == State.WITHDRAWN:
            allowed = sorted(_states_leading_to(bt, State.WITHDRAWN), key=_WITHDRAW_ORDER.index)
            cw = list(itertools.accumulate(WITHDRAW_FROM[s] for s in allowed))
            where = allowed[bisect.bisect_right(cw, rng.random() * cw[-1])]
            if where == State.DRAFT:
                return _path_of(bt, (State.DRAFT, State.WITHDRAWN))
        if final == State.COMPLETED:
            last = len(stages) - 1
        elif final == State.REFUSED:  # mostly at the first stage that may refuse
            refusing = _states_leading_to(bt, State.REFUSED)
            last = stages.index(refusing[0] if len(refusing) > 1 and rng.random() < 0.65 else refusing[-1])
        elif final == State.WITHDRAWN and where != State.RETURNED:
            last = stages.index(where)
        elif final in (State.RETURNED, State.WITHDRAWN):
            last = len(stages) - 1
        elif final == State.EXPIRED:  # never confirmed by the employer
            last = stages.index(State.ENTERPRISE)
        else:
            last = stages.index(final)
        returnable = _states_leading_to(bt, State.RETURNED)
        review = [i for i, s in enumerate(stages) if s in returnable and i <= last]
        u = rng.random()
        loops = 0 if u < 0.86 else (1 if u < 0.97 else 2)
        ends_returned = final == State.RETURNED or where == State.RETURNED
        if ends_returned:
            loops = max(loops, 1)
        if not review:
            loops = 0
        states = [State.DRAFT]
        for _ in range(loops):
            at = rng.choice(review)
            states += [*stages[:at + 1], State.RETURNED]
        if ends_returned:
            if final == State.WITHDRAWN:
                states.append(State.WITHDRAWN)
            return _path_of(bt, states)
        states += stages[:last + 1]
        if final in FINAL:
            states.append(final)
        return _path_of(bt, states)

    def _end_time(self, steps, cursor):
        """Time of the last step of a finished application, at or before `cursor`."""
        last = steps[-1]
        if last.auto and len(steps) > 1 and steps[-2].batch_only:
            k = self._batch_before(cursor - 1)
            return None if k < 0 else self.batch_times[k] + 1
        if last.batch_only:
            k = self._batch_before(cursor)
            return None if k < 0 else self.batch_times[k]
        if last.role == R.APPLICANT:
            return cursor - self.rng.randrange(60, 2 * DAY)
        return self._workday_back(cursor, 0)

    def _open_time(self, bt, state, steps):
        """When an application still open now entered its state."""
        rng = self.rng
        kind = _stage_kinds(bt).get(state)
        if kind == "review":
            limit = self.limits.get(bt, {}).get(state) or 10
            days = limit + 1 + int(rng.random() * limit * 1.5) if rng.random() < OVERDUE_SHARE else rng.randrange(limit + 1)
            return self._workday_back(self.now, days)
        if kind == "batch":  # approved after the last batch was published
            last = self.batch_times[-1] if self.batch_times else self.now - 30 * DAY
            t = self._workday_back(self.now - rng.randrange(0, max(1, self.now - last - 3600)), 0)
            return t if t > last else last + rng.randrange(60, 3600)
        if kind == "auto":  # the certificate waits (no signature on file, for example)
            if steps[-1].batch_only:
                k = self._batch_before(self.now - DAY) - rng.randrange(3)
                return self.batch_times[max(k, 0)]
            return self._workday_back(self.now, rng.randrange(1, 25))
        if state == State.RETURNED:
            return self._workday_back(self.now, rng.randrange(0, 12))
        return self.now - rng.randrange(600, 30 * DAY)  # a draft: its creation

    def _times(self, bt, steps, t_last):
        """Times of the steps, from the last one backwards through the time spent in each state."""
        rng = self.rng
        kinds = _stage_kinds(bt)
        n = len(steps)
        times = [0] * n
        times[-1] = t_last
        for i in range(n - 2, -1, -1):
            state = steps[i].target
            kind = kinds.get(state)
            after = times[i + 1]
            if kind == "review":
                t = self._workday_back(after, self._dwell(bt, state))
            elif state == State.RETURNED:
                t = after - rng.randrange(3 * 3600, 20 * DAY)
            elif kind == "auto":
                t = after - 1
            elif kind == "batch":  # approved between the previous batch and the one that published it
                k = self._batch_before(after)
                low = self.batch_times[k - 1] + 3600 if k > 0 else after - 35 * DAY
                t = self._workday_back(rng.randrange(low, max(low + 1, after - DAY)), 0)
                if t <= low - 3600 or t >= after:
                    t = rng.randrange(low, max(low + 1, after - DAY))
            else:
                t = after - rng.randrange(600, DAY)
            times[i] = t
        return times

    def _schedule(self, plan, last_try):
        """Times for every planned application, built backwards from now; None if they do not fit the
        window. Finished applications end at sorted uniform moments of the window (pushed earlier when
        the next one started before), an open one is where it is now."""
        rng = self.rng
        rnd = rng.random
        k = len(plan)
        finished = k - (plan[-1][1] not in FINAL) if k else 0
        span = 40 * DAY  # room for a typical application, from draft to its last step
        low = self.window_start + span
        anchor = next((i for i, item in enumerate(plan) if item[0] == "initial" and item[1] == State.COMPLETED), None)
        if anchor is None or anchor >= finished:
            ends = sorted(low + int(rnd() * max(1, self.now - low)) for _ in range(finished))
        else:  # the registration's date is uniform over the window, the others fall around it
            middle = low + int(rnd() * max(1, self.now - low))
            ends = sorted(low + int(rnd() * max(1, middle - span - low)) for _ in range(anchor)) + [middle]
            ends += sorted(middle + span + int(rnd() * max(1, self.now - middle - span))
                           for _ in range(finished - anchor - 1))
        cursor = self.now
        apps = []
        for index in range(k - 1, -1, -1):
            bt, final, extra = plan[index]
            steps = self._path(bt, final)
            if final in FINAL:
                cursor = min(ends[index], cursor - 3600 - int(rnd() * 10 * DAY))
                t_last = self._end_time(steps, cursor)
            else:
                t_last = self._open_time(bt, final, steps)
            if t_last is None:
                if not last_try:
                    return None
                t_last = cursor
            times = self._times(bt, steps, t_last) if steps else []
            if steps:
                created = times[0] - (300 + int(rnd() * 6900) if rnd() < 0.5 else 7200 + int(rnd() * 9.9 * DAY))
            else:
                created = t_last
            if created < self.window_start and not last_try:
                return None
            apps.append((bt, final, steps, times, created, extra))
            cursor = created
        apps.reverse()
        return apps

    # -- rows ------------------------------------------------------------------------------------------
    def _add_years(self, day, years):
        key = (day, years)
        found = self._years_memo.get(key)
        if found is None:
            d = _date(day)
            try:
                found = _dn(d.replace(year=d.year + years))
            except ValueError:
                found = _dn(d.replace(year=d.year + years, day=28))
            self._years_memo[key] = found
        return found

    def _contract(self, start, must_cover):
        end = self._add_years(start, self.rng.choice((3, 3, 5, 5, 10)))
        if end < must_cover:
            end = self._add_years(must_cover, self.rng.choice((1, 2, 3)))
        return start, end

    def _validity_end(self, day):
        """Last valid day (day number) of a period starting on `day` (app/services/validity.py)."""
        found = self._validity_memo.get(day)
        if found is None:
            found = self._validity_memo[day] = _dn(validity_end(_date(day), self.validity))
        return found

    def _renewed_period(self, valid_until):
        start, end = renewed_period(_date(valid_until), self.validity)
        return _dn(start), _dn(end)

    def _emit(self, out, pid, province, birth, male, id_number, name, kind, quals, initial_specs, apps):
        """Rows of one person: qualifications, applications with their logs, the person, the registration
        with its specialties and certificate, as COPY text lines. The registration follows from the
        approved applications, in time order (app/effects.py)."""
        life = _Life(pid, province, birth, male, id_number, name, kind, quals, initial_specs)
        life.employer = life.first_employer = self._enterprise(province if self.rng.random() < 0.85 else None)
        if kind != "U":
            life.reg_id = self._take_id("registration")
        life.reg_s = str(life.reg_id) if life.reg_id else NULL
        if kind == "P":
            self._registered_before_window(life, apps)
        life.temporary = any(a[0] == "change" for a in apps) or self.rng.random() < 0.03
        for bt, final, steps, times, created, _extra in apps:
            self._application(out, life, bt, final, steps, times, created)
        first_created = apps[0][4] if apps else None
        self._qualification_rows(out, life, first_created)
        self._person_row(out, life, first_created, apps)
        self._registration_rows(out, life, apps)

    def _qualify(self, life, code, before_day):
        """A qualification in `code`, dated before it was first used, numbered at once."""
        rnd = self.rng.random
        day = before_day - 20 - int(rnd() * 1480)
        earliest = self._add_years(life.birth, 23)
        day = min(earliest if day < earliest else day, before_day - 1)
        year, province = self.ds[day][:4], life.province
        serial = self._serial("__qualification__", self.used_qualification, lambda v: f"JZ{year}{province}{v:08d}")
        life.qual_rows[code] = (day, f"JZ{year}{province}{serial:08d}")

    def _registered_before_window(self, life, apps):
        """Registered before the window: the current validity period follows from the renewal, if any."""
        rnd, today, validity, add_years = self.rng.random, self.today, self.validity, self._add_years
        renewal = next((a for a in apps if a[0] == "renewal"), None)
        if renewal is not None:
            submitted = next((t for step, t in zip(renewal[2], renewal[3], strict=True)
                              if step.forward and step.source in EDITABLE_STATES), renewal[4])
            old_until = (submitted + CST) // DAY + 1 + int(rnd() * 30)
        elif rnd() < 0.9:
            old_until = today + int(rnd() * 365)
        else:
            old_until = today - 1 - int(rnd() * 699)
        valid_from = add_years(old_until + 1, -validity)
        old_until = self._validity_end(valid_from)  # the same day, unless the next one is a 29 February
        window_day = (self.window_start + CST) // DAY
        oldest = max(today - 3653, add_years(life.birth, 25))
        # Registered some whole validity periods before the current one, as close to a uniform date
        # over the years before the window as the periods allow; or any time before it (the cycle
        # restarted with a re-registration after a lapse, before the window).
        target = oldest + int(rnd() * max(1, window_day - oldest))
        if rnd() < 0.5:
            life.registered_on = min(target, valid_from)
        else:
            choices = [n for n in range(5) if oldest <= add_years(valid_from, -validity * n) < window_day]
            n = min(choices, key=lambda m: abs(add_years(valid_from, -validity * m) - target)) if choices else 0
            life.registered_on = add_years(valid_from, -validity * n)
        for code in life.initial_specs:
            life.specs[code] = [valid_from, old_until, "active"]
            self._qualify(life, code, life.registered_on)
        life.reg_status = "active"
        # The certificate of the current period, issued before the window (unless one is issued in it).
        life.last_issue = (min(valid_from * DAY - CST + 36000, self.now - DAY), NULL)

    def _application(self, out, life, bt, final, steps, times, created):
        """One application's row, its specialties and its transition log; its approval changes `life`."""
        rnd = self.rng.random
        ds, hms, wd_last, wd_base, wd_span = self.ds, self.hms, self.wd_last, self.wd_base, self.wd_span
        app_id = self._take_id("application")
        cday = (created + CST) // DAY
        day = self.dates[cday]
        counter = application_counter(day)
        if self.used_app:
            serial = self._serial(counter, self.used_app, lambda v: format_application_number(day, v))
        else:
            serial = (self.serials.get(counter) or self.counters.get(counter, 0)) + 1
            self.serials[counter] = serial
        approval = _index(steps, APPROVAL_STAGE)
        f = _Filing(bt, final, cday, (times[-1] + CST) // DAY if steps else cday,
                    (times[approval] + CST) // DAY if approval is not None else None)
        f.enterprise = life.employer
        f.registration = life.reg_s if life.reg_status is not None else NULL
        FILLERS[bt](self, life, f)
        steps, times = self._through_conditional(life, bt, final, f, steps, times)
        approved = f.approve_day is not None
        if f.contract is not None and approved:
            life.reg_contract = f.contract
        # The certificate policy (app/workflow.py): "revoke" revokes the valid certificate at approval; the
        # others issue a new one at the issue stage, to an active registration only (app/effects.py).
        policy = BUSINESS_TYPES[bt].certificate
        if approved and policy == "revoke":
            life.revoked = (f.approve_day, f.reason_text)
        issue = _index(steps, CERTIFICATE_STAGE)
        if life.reg_status == "active" and issue is not None and policy != "revoke":
            life.last_issue, life.revoked = (times[issue], app_id), None

        # The transition log, in time order; the last entry's time is the state's.
        enterprise = f.enterprise
        prov_code = enterprise[1] if enterprise else (life.id_number[:2] if life.id_number[:2] in self.provinces
                                                       else None)
        staff = self.province_users.get(prov_code)
        users = {R.APPLICANT: life.id_number,
                 R.ENTERPRISE: f"enterprise-{enterprise[0]}" if enterprise else "enterprise",
                 R.PROVINCE: staff[int(rnd() * 3)] if staff else "province",
                 R.MINISTRY: self.ministry_users[int(rnd() * 5)], R.INDUSTRY: "industry", R.SYSTEM: "system"}
        opinion = NULL
        batch_before = False
        submitted = None
        prov_s = prov_code or NULL
        # Working days spent in each state, as workdays.stage_working_days counts them (the day of
        # entry excluded): differences of "index of the last working day on or before".
        offset = cday - wd_base
        entered = wd_last[offset if offset < wd_span else wd_span] if offset > 0 else 0
        log_rows = out["transition_log"]
        for step, t in zip(steps, times, strict=True):
            if step.forward and step.source in EDITABLE_STATES:
                submitted = t
            if step.batch_only or (step.auto and batch_before):  # the batch's publisher
                user = self.batch_users[self._batch_before(t - step.auto)]
            else:
                user = users[step.role]
            opinion, refusal = self._opinion(step, bt)
            offset = (t + CST) // DAY - wd_base
            left = wd_last[offset if offset < wd_span else wd_span] if offset > 0 else 0
            log_rows.append(f"{self._take_id('transition_log')}\t{app_id}\t{step.action}\t{step.source}\t"
                            f"{step.target}\t{user}\t{step.role}\t{opinion}\t{refusal}\t{bt}\t{prov_s}\t"
                            f"{left - entered}\t{ds[t // DAY]} {hms[t % DAY]}")
            batch_before, entered = step.batch_only, left
        changed = times[-1] if steps else created
        changed_s = f"{ds[changed // DAY]} {hms[changed % DAY]}"
        deadline = NULL
        limit = self.limits.get(bt, {}).get(final)
        if limit:
            deadline = _deadline(_date((changed + CST) // DAY), limit)
        announcement = NULL
        published = next((i for i, s in enumerate(steps) if s.batch_only), None)
        if published is not None:
            announcement = self.batch_ids[self._batch_before(times[published])]
        elif _stage_kinds(bt).get(final) == "batch" and changed < self.now - 3 * DAY and rnd() < 0.6:
            announcement = self.draft_batch
        contract, previous = f.contract, f.previous
        out["application"].append(
            f"{app_id}\t{format_application_number(day, serial)}\t{bt}\t{life.pid}\t"
            f"{enterprise[0] if enterprise else NULL}\t{previous[0] if previous else NULL}\t{prov_code or NULL}\t"
            f"{f.registration}\t{final}\t{len(steps) + 1}\t{self._ts(submitted) if submitted is not None else NULL}\t"
            f"{changed_s}\t{deadline}\t{opinion if steps else NULL}\t{ds[contract[0]] if contract else NULL}\t"
            f"{ds[contract[1]] if contract else NULL}\t{f.reason or NULL}\t{f.reason_text or NULL}\t"
            f"{f.new_name or NULL}\t{NULL}\t{f.pass_no or NULL}\t{announcement}\t"
            f"{ds[created // DAY]} {hms[created % DAY]}\t{changed_s}")
        codes = f.codes
        if len(codes) > 1:
            codes = sorted(codes, key=self.spec_order.get)
        for code in codes:
            out["application_specialty"].append(f"{app_id}\t{code}")

    def _opinion(self, step, bt):
        """(opinion, coded reason) written with a step: always where the engine needs one, else sometimes."""
        rnd = self.rng.random
        if step.action == "opine":
            reason = "agree" if rnd() < 0.9 else "disagree"
            return INDUSTRY_OPINION_TEXTS[reason], reason
        if step.coded_reason:
            reason = self._pick(self.refusal_values, self.refusal_cw)
            return REFUSAL_TEXTS[reason], reason
        if step.source == APPROVAL_STAGE and step.forward:
            return APPROVE_OPINIONS[bt], NULL
        share, texts = OPINIONS.get(step.action, (0, ()))
        if not texts or (share < 1 and not step.needs_opinion and rnd() >= share):
            return NULL, NULL
        return (texts[int(rnd() * len(texts))] if len(texts) > 1 else texts[0]), NULL

    def _through_conditional(self, life, bt, final, f, steps, times):
        """The industry opinion stage, as the engine's condition decides it from the chosen specialties: an
        application left open in it gets a flagged specialty; one that passed the province with a flagged
        specialty (the rule on) goes through it, the opinion given when the ministry's review began."""
        if _IND not in BUSINESS_TYPES[bt].conditions:
            return steps, times
        flagged = any(code in self.flagged for code in f.codes)
        if final == _IND and not flagged:
            held = set(life.specs) | set(f.codes)
            code = next((c for c in self._specialty_order(self.rng) if c in self.flagged and c not in held), None)
            if code is not None:
                if code not in life.quals:
                    life.quals.append(code)
                if code not in life.qual_rows:
                    self._qualify(life, code, f.cday)
                if bt == "add_specialty":
                    f.codes, f.pass_no = (code,), life.qual_rows[code][1]
                else:
                    f.codes = (*f.codes, code)
            return steps, times
        if not (flagged and self.industry_on):
            return steps, times
        steps, times = list(steps), list(times)
        for i, step in enumerate(steps):
            if step.source == _P and step.target == _M:
                before = times[i - 1] if i else times[i] - DAY
                steps[i:i + 1] = [_step(bt, _P, _IND), _step(bt, _IND, _M)]
                times[i:i] = [min(times[i], before + (times[i] - before) * 2 // 3)]
        return steps, times

    # -- one function per business type: the columns its applications carry, what approval changes ----
    def _fill_initial(self, life, f):
        rnd = self.rng.random
        if f.final == State.COMPLETED or f.approve_day is not None:
            f.enterprise = life.first_employer
        elif rnd() >= 0.7:
            f.enterprise = self._enterprise(life.province)
        f.codes = life.initial_specs
        for code in f.codes:
            if code not in life.qual_rows:
                self._qualify(life, code, f.cday)
        f.contract = self._contract(f.cday - int(rnd() * 150), f.end_day + 30)
        f.registration = life.reg_s if f.approve_day is not None else NULL
        if f.approve_day is not None:
            life.registered_on, life.reg_status = f.approve_day, "active"
            for code in f.codes:
                life.specs[code] = [f.approve_day, self._validity_end(f.approve_day), "active"]

    def _fill_renewal(self, life, f):
        f.codes = [c for c in life.initial_specs if c in life.specs]
        start = life.reg_contract[0] if life.reg_contract else f.cday - 100 - int(self.rng.random() * 900)
        f.contract = self._contract(start, f.end_day + 30)
        if f.approve_day is not None:
            for code in f.codes:
                life.specs[code] = [*self._renewed_period(life.specs[code][1]), "active"]

    def _fill_change(self, life, f):
        f.previous = life.employer
        f.enterprise = self._enterprise(life.employer[1] if self.rng.random() < 0.7 else None,
                                        other_than=life.employer[0])
        f.contract = self._contract(f.cday - int(self.rng.random() * 60), f.end_day + 30)
        if f.approve_day is not None:
            life.employer = f.enterprise

    def _fill_add_specialty(self, life, f):
        held = set(life.specs) | set(life.initial_specs)
        spare = [c for c in life.quals if c not in held]
        code = spare[0] if spare else next(c for c in self._specialty_order(self.rng) if c not in held)
        if code not in life.quals:
            life.quals.append(code)
        if code not in life.qual_rows:
            self._qualify(life, code, f.cday)
        f.codes = (code,)
        f.pass_no = life.qual_rows[code][1]
        start = life.reg_contract[0] if life.reg_contract else f.cday - 100 - int(self.rng.random() * 900)
        f.contract = self._contract(start, f.end_day + 30)
        if f.approve_day is not None:
            life.specs[code] = [f.approve_day, self._validity_end(f.approve_day), "active"]

    def _fill_cancellation(self, life, f):
        f.reason = self._pick(self.cancel_values, self.cancel_cw)
        f.reason_text = CANCELLATION_TEXTS[f.reason]
        if f.approve_day is not None:
            life.reg_status = "cancelled"
            life.cancel = (f.approve_day, f.reason, f.reason_text)
            for held in life.specs.values():
                held[2] = "cancelled"

    def _fill_cancel_by_employer(self, life, f):
        """The employer reports that the person left: the labour contract ended."""
        f.reason = "contract_ended"
        f.reason_text = EMPLOYER_CANCELLATION_TEXTS[int(self.rng.random() * len(EMPLOYER_CANCELLATION_TEXTS))]
        self._cancelled(life, f)

    def _fill_cancel_by_authority(self, life, f):
        f.reason = self._pick(*_weighted(AUTHORITY_GROUNDS_WEIGHTS))
        f.reason_text = AUTHORITY_TEXTS[f.reason]
        self._cancelled(life, f)

    def _cancelled(self, life, f):
        if f.approve_day is not None:
            life.reg_status = "cancelled"
            life.cancel = (f.approve_day, f.reason, f.reason_text)
            for held in life.specs.values():
                held[2] = "cancelled"

    def _fill_re_registration(self, life, f):
        rnd = self.rng.random
        f.codes = list(life.specs) or life.initial_specs
        f.enterprise = self._enterprise(life.employer[1] if rnd() < 0.6 else None,
                                        other_than=life.employer[0] if rnd() < 0.7 else None)
        f.contract = self._contract(f.cday - int(rnd() * 150), f.end_day + 30)
        if f.approve_day is not None:
            life.employer, life.reg_status, life.cancel = f.enterprise, "active", None
            for code in f.codes:
                life.specs[code] = [f.approve_day, self._validity_end(f.approve_day), "active"]

    def _fill_replacement(self, life, f):
        """Nothing changes on approval; the certificate is replaced when it is issued."""
        f.reason = "lost" if self.rng.random() < 0.6 else "damaged"
        f.reason_text = "证书遗失。" if f.reason == "lost" else "证书污损，无法辨认。"

    def _fill_info_change(self, life, f):
        if life.reg_status is None:
            f.enterprise = None
        f.new_name = life.name if f.final == State.COMPLETED or f.approve_day is not None else self._name(life.male)
        f.reason_text = "户籍姓名变更。"

    # -- the person's other rows ------------------------------------------------------------------------
    def _qualification_rows(self, out, life, first_created):
        for code in life.quals:
            if code not in life.qual_rows:
                self._qualify(life, code, (first_created + CST) // DAY if first_created
                              else self.today - 30 - int(self.rng.random() * 1470))
        stamp = self._ts(min(self.now, (min(d for d, _n in life.qual_rows.values()) + 30) * DAY))
        flag = "t" if life.temporary else "f"
        for code, (day, certificate_no) in life.qual_rows.items():
            out["qualification"].append(f"{self._take_id('qualification')}\t{life.pid}\t{certificate_no}\t{code}\t"
                                        f"{self.ds[day]}\t{flag}\t{stamp}\t{stamp}")

    def _person_row(self, out, life, first_created, apps):
        """The person: verified before the first application (or the registration), unless still waiting."""
        rng, rnd, ds, province = self.rng, self.rng.random, self.ds, life.province
        anchor = first_created if first_created is not None else self.now - DAY - int(rnd() * 699 * DAY)
        if life.kind == "P":
            anchor = min(anchor, life.registered_on * DAY - CST)
        if life.kind != "U" or rnd() < 0.6 or any(a[2] for a in apps):
            status, method = "verified", ("online" if rnd() < 0.55 else "onsite")
            verified = anchor - 3600 - int(rnd() * 60 * DAY)
            requested, note = NULL, NULL
            realname_province = province if method == "onsite" else NULL
        else:
            u = rnd()
            status = "pending" if u < 0.5 else ("unverified" if u < 0.85 else "rejected")
            method = "onsite" if status != "unverified" else NULL
            verified = None
            requested = self._ts(self.now - 3600 - int(rnd() * 40 * DAY)) if status == "pending" else NULL
            note = rng.choice(REALNAME_NOTES) if status == "rejected" else NULL
            realname_province = province if status != "unverified" else NULL
        person_created = (verified if verified is not None else anchor) - 3600 - int(rnd() * 30 * DAY)
        education = self._pick(self.edu_values, self.edu_cw)
        ethnicity = "01"
        if rnd() < 0.08:
            ethnicity = (MINORITY_OF_PROVINCE.get(province) if rnd() < 0.6 else None) or rng.choice(MINORITIES)
        school = rng.choice(SCHOOLS) if education in ("bachelor", "master", "doctorate") else \
            f"{self.short[province]}建筑职业技术学院"
        graduation = f"{int(ds[life.birth][:4]) + GRADUATION_AGE[education]}-07-01"
        email = f"{self._phone()}@{rng.choice(EMAIL_DOMAINS)}" if rnd() < 0.4 else NULL
        out["person"].append(
            f"{life.pid}\t{life.id_number}\t{life.name}\t{'M' if life.male else 'F'}\t{ds[life.birth]}\t{ethnicity}\t"
            f"{self._phone()}\t{email}\t{education}\t{DEGREE_OF.get(education, 'none')}\t{school}\t{graduation}\t"
            f"{rng.choice(MAJORS[life.quals[0]])}\t{status}\t{method or NULL}\t"
            f"{self._ts(verified) if verified is not None else NULL}\t{requested}\t{note}\t"
            f"{realname_province or NULL}\t{self._ts(person_created)}\t{self._ts(max(person_created, verified or 0))}")

    def _registration_rows(self, out, life, apps):
        """The registration, its specialties and its certificate (the last one issued)."""
        rnd, ds = self.rng.random, self.ds
        registered_on = life.registered_on
        if life.kind == "U" or registered_on is None:
            return
        if life.reg_contract is None:
            life.reg_contract = self._contract(registered_on - int(rnd() * 200),
                                               self.today + 30 + int(rnd() * 870))
        contract, cancel, employer = life.reg_contract, life.cancel, life.employer
        qual_year = min(int(ds[life.qual_rows[c][0]][:4]) for c in life.initial_specs if c in life.qual_rows)
        year = int(ds[registered_on][:4])
        first_province = life.first_employer[1]
        serial = self._serial(registration_counter(first_province, year), self.used_digits,
                              lambda v: format_registration_digits(first_province, qual_year, year, v))
        digits = format_registration_digits(first_province, qual_year, year, serial)
        number = format_registration_number(self.provinces[employer[1]][1], digits)
        updated = max(a[3][-1] if a[3] else a[4] for a in apps) if apps else registered_on * DAY
        flag = "t" if life.temporary else "f"
        out["registration"].append(
            f"{life.reg_id}\t{life.pid}\t{number}\t{digits}\t{employer[0]}\t{life.reg_status}\t{first_province}\t"
            f"{ds[registered_on]}\t{ds[contract[0]]}\t{ds[contract[1]]}\t{flag}\t{ds[cancel[0]] if cancel else NULL}\t"
            f"{cancel[1] if cancel else NULL}\t{cancel[2] if cancel else NULL}\t"
            f"{self._ts(registered_on * DAY - CST + 36000)}\t{self._ts(updated)}")
        shown = []
        specs = life.specs
        for code in (sorted(specs, key=self.spec_order.get) if len(specs) > 1 else specs):
            valid_from, valid_until, held_status = specs[code]
            out["registration_specialty"].append(f"{self._take_id('registration_specialty')}\t{life.reg_id}\t{code}\t"
                                                 f"{ds[valid_from]}\t{ds[valid_until]}\t{held_status}")
            shown.append((code, valid_until, held_status))
        if life.last_issue is None:
            return  # approved, the certificate not issued yet
        active = [s for s in shown if s[2] == "active"] or shown
        issued_ts, cert_app = life.last_issue
        issued_day = (issued_ts + CST) // DAY
        cert_year = int(ds[issued_day][:4])
        cert_serial = self._serial(certificate_counter(cert_year), self.used_cert,
                                   lambda v: format_certificate_number(cert_year, v))
        names = self.spec_names
        specialties = "[" + ", ".join(f'{{"code": "{c}", "name": "{names[c]}", "valid_until": "{ds[u]}"}}'
                                      for c, u, _s in active) + "]"
        revoked = life.revoked
        out["certificate"].append(
            f"{self._take_id('certificate')}\t{format_certificate_number(cert_year, cert_serial)}\t{life.reg_id}\t"
            f"{life.pid}\t{cert_app}\t{'revoked' if revoked else 'valid'}\t{ds[issued_day]}\t"
            f"{ds[max(s[1] for s in active)]}\t{life.name}\t{number}\t{employer[2]}\t{specialties}\t"
            f"{ds[revoked[0]] if revoked else NULL}\t{revoked[1] if revoked else NULL}\t{self._ts(issued_ts)}")

    def _specialty_order(self, rng):
        codes = list(self.spec_codes)
        rng.shuffle(codes)
        return codes

    # -- counters --------------------------------------------------------------------------------------
    def save_counters(self):
        dialect = self.conn.dialect.name
        greatest = "GREATEST" if dialect == "postgresql" else "MAX"
        rows = [{"name": n, "value": v} for n, v in self.serials.items() if not n.startswith("__")]
        if rows:
            self.conn.execute(text(
                "INSERT INTO counter (name, value) VALUES (:name, :value) "
                f"ON CONFLICT (name) DO UPDATE SET value = {greatest}(counter.value, excluded.value)"), rows)
        return len(rows)


@lru_cache(maxsize=None)
def _deadline(day: date, limit: int) -> str:
    return add_working_days(day, limit).isoformat()


def _poisson(rng, lam):
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


# One function per business type (code -> filler), as app/workflow.py declares the types.
FILLERS = {
    "initial": _Generator._fill_initial,
    "renewal": _Generator._fill_renewal,
    "change": _Generator._fill_change,
    "add_specialty": _Generator._fill_add_specialty,
    "cancellation": _Generator._fill_cancellation,
    "re_registration": _Generator._fill_re_registration,
    "replacement": _Generator._fill_replacement,
    "info_change": _Generator._fill_info_change,
    "cancel_by_employer": _Generator._fill_cancel_by_employer,
    "cancel_by_authority": _Generator._fill_cancel_by_authority,
}


# --- PostgreSQL bulk-load helpers ------------------------------------------------------------------------
def _pg_detach(conn, tables):
    """Drop the loaded tables' secondary indexes and foreign keys; return what recreates them."""
    names = list(tables)
    indexes = conn.execute(text(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = ANY(SELECT to_regclass(t) FROM unnest(CAST(:t AS text[])) AS t) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"), {"t": names}).all()
    foreign = conn.execute(text(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "WHERE c.contype = 'f' AND c.conrelid = ANY(SELECT to_regclass(t) FROM unnest(CAST(:t AS text[])) AS t)"),
        {"t": names}).all()
    for table, name, _definition in foreign:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _definition in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return indexes, foreign


def _pg_attach(conn, indexes, foreign, say):
    """Rebuild the dropped indexes, analyse (so the checks get sane plans), re-add the foreign keys."""
    conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
    per_table = {}
    for _name, definition in indexes:
        started = time.perf_counter()
        conn.execute(text(definition))
        table = definition.split(" ON ", 1)[1].split()[0].rsplit(".", 1)[-1]
        per_table[table] = per_table.get(table, 0.0) + time.perf_counter() - started
    say(f"  {len(indexes)} indexes rebuilt in {sum(per_table.values()):.1f}s: "
        + ", ".join(f"{t} {s:.1f}s" for t, s in sorted(per_table.items(), key=lambda x: -x[1])))
    started = time.perf_counter()
    for table in TABLES:
        conn.execute(text(f"ANALYZE {table}"))
    say(f"  ANALYZE in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    for table, name, definition in foreign:
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
    say(f"  {len(foreign)} foreign keys re-validated in {time.perf_counter() - started:.1f}s")


def _pg_sequences(conn):
    for table in SERIAL_TABLES:
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                          f"(SELECT MAX(id) FROM {table}))"
                          f" WHERE EXISTS (SELECT 1 FROM {table})"))


def _settings():
    if has_app_context():
        return current_app.config
    import config  # reason: only outside an app; importing the settings reads the environment and instance/

    return {"RULES": config.RULES, "STAGE_TIME_LIMITS": config.STAGE_TIME_LIMITS}


# --- Entry point -----------------------------------------------------------------------------------------
def generate(session_or_engine, persons=10000, enterprises=None, applications_per_person=2.0,
             registered_share=1.0, seed=None, chunk_size=20000, drop_indexes=None, progress=None) -> dict:
    """Generate and load the data set in one transaction; return the number of rows written per table.

    `session_or_engine`: an SQLAlchemy Session (committed at the end), Engine, or Connection (its
    transaction is left to the caller). `drop_indexes` (PostgreSQL only): drop the loaded tables' secondary
    indexes and foreign keys during the load and rebuild them before the commit; default for 50,000
    persons or more. `progress`: a callable that receives progress lines.
    """
    options = {"persons": persons, "enterprises": max(50, int(persons * 0.03)) if enterprises is None else enterprises,
               "per_person": applications_per_person, "registered_share": registered_share, "seed": seed,
               "chunk_size": chunk_size, "drop_indexes": drop_indexes, "say": progress or (lambda _line: None)}
    if isinstance(session_or_engine, Engine):
        with session_or_engine.begin() as conn:
            return _run(conn, **options)
    if isinstance(session_or_engine, Connection):
        return _run(session_or_engine, **options)
    session = session_or_engine
    try:
        counts = _run(session.connection(), **options)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return counts


def _run(conn, persons, enterprises, per_person, registered_share, seed, chunk_size, drop_indexes, say):
    """The whole load on one connection, inside its current transaction."""
    started = time.perf_counter()
    postgres = conn.dialect.name == "postgresql"
    stats = _Stats()
    gen = _Generator(conn, persons, enterprises, per_person, registered_share, seed, _settings())
    detached = None
    if postgres and (drop_indexes if drop_indexes is not None else persons >= 50_000):
        detached = _pg_detach(conn, TABLES)
        say(f"Dropped {len(detached[0])} secondary indexes and {len(detached[1])} foreign keys for the load.")
    sink = _PgSink(conn.connection.dbapi_connection, stats) if postgres else _CoreSink(conn, stats)
    # The COPY thread needs the GIL back after every 128 kB it sends: hand it over quickly.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        gen.enterprises(sink)
        gen.batches(sink)
        done = 0
        while done < persons:
            count = min(chunk_size, persons - done)
            gen.chunk(count, sink)
            done += count
            elapsed = time.perf_counter() - started
            say(f"persons {done:>10,}/{persons:,}  applications {gen.made_apps:>10,}  "
                f"{done / elapsed:>8,.0f} persons/s  {elapsed:6.1f}s")
    finally:
        try:
            sink.close()
        finally:
            sys.setswitchinterval(interval)
    say(f"Rows generated and written in {time.perf_counter() - started:.1f}s.")
    if detached is not None:
        _pg_attach(conn, *detached, say)
    gen.save_counters()
    if postgres:
        _pg_sequences(conn)
        if detached is None:
            analysed = time.perf_counter()
            for table in TABLES:
                conn.execute(text(f"ANALYZE {table}"))
            say(f"ANALYZE in {time.perf_counter() - analysed:.1f}s.")
    total = time.perf_counter() - started
    rows = sum(stats.rows.values())
    say(f"{'table':<24}{'rows':>12}{'write s':>9}{'rows/s':>12}")
    for table in TABLES:
        count, seconds = stats.rows[table], stats.seconds[table]
        say(f"{table:<24}{count:>12,}{seconds:>9.1f}{(count / seconds if seconds else 0):>12,.0f}")
    say(f"{'total (wall clock)':<24}{rows:>12,}{total:>9.1f}{rows / total:>12,.0f}")
    return dict(stats.rows)
