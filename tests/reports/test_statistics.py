"""Statistics equal hand-counted figures on a small world of our own (a database of its own), and the
dashboard, its PDF report and the province roster show them to the right roles only."""
import re
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest

from ground import clock
from ground.clock import today
from ground.extensions import db
from models import Registration, RegistrationSpecialty
from reports import statistics
from tests import factories as f
from tests.conftest import app_on_own_database, job_result, login

MARCH = statistics.Filters(date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


def at(day: str, hour=10):
    """A moment in China time on `day` (naive UTC, like the database)."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00") - timedelta(hours=8)


@pytest.fixture(scope="module")
def world(backend, tmp_path_factory):
    """Registrations and applications with known dates; returns (app, names)."""
    with app_on_own_database(backend, tmp_path_factory) as application:
        with application.app_context():
            names = _build()
            db.session.remove()
        yield application, names


@pytest.fixture
def in_world(world):
    """An app context on the world's database, for calling the statistics directly (not for clients:
    a test client inside an open app context would share its `g`, and so its signed-in user)."""
    app, _names = world
    with app.app_context():
        yield
        db.session.rollback()


def _build():
    staff = f.Staff()
    e11a, e11b, e31 = f.make_enterprise("11"), f.make_enterprise("11"), f.make_enterprise("31")
    names = {}
    # Registered: (province 11: building ×3, mining ×1; province 31: building ×1).
    for key, enterprise, status, days in (("r1", e11a, "active", 400), ("r2", e11a, "active", 20),
                                          ("r3", e11b, "active", 60), ("r4", e31, "active", 400),
                                          ("r5", e31, "cancelled", 400), ("r6", e31, "active", -5)):
        username, person_id = f.make_registered(enterprise, status=status, expires_in_days=days, name=f"登记{key}")
        names[key] = f"登记{key}"
    r3 = db.session.query(Registration).join(Registration.person).filter_by(name="登记r3").one()
    r3.specialties.append(RegistrationSpecialty(specialty_code="mining", valid_from=today(),
                                                valid_until=today() + timedelta(days=1000)))
    db.session.commit()
    staff.ministry  # noqa: B018  (created before time is moved)

    def timed(moments):
        """Take each (action, day) at that China-time moment (every module's `now_utc` moved)."""
        import app.effects  # noqa: F401  (imported now, so it is patched too)

        original = clock.now_utc
        holders = [m for m in list(sys.modules.values()) if getattr(m, "now_utc", None) is original]
        try:
            for application_id, applicant, action, day in moments:
                for module in holders:
                    module.now_utc = lambda day=day: at(day)
                if action == "refuse":
                    f.move(application_id, action, staff.province("11"), reason="dual_employment")
                elif action == "withdraw":
                    f.move(application_id, action, applicant)
                else:
                    staff.take(application_id, applicant, action)
        finally:
            for module in holders:
                module.now_utc = original

    apps = {}
    for key, enterprise in (("a1", e11a), ("a2", e11a), ("a3", e31), ("a5", e11b), ("a4", e11b)):
        username, _person = f.make_applicant()
        apps[key] = (f.make_application(username, "initial", enterprise_id=enterprise, **f.contract()), username)
    a1, a2, a3, a5 = (apps[k] for k in ("a1", "a2", "a3", "a5"))
    timed([
        (*a1, "submit", "2026-03-02"), (*a1, "confirm", "2026-03-05"), (*a1, "pass", "2026-03-20"),
        (*a2, "submit", "2026-03-02"), (*a2, "confirm", "2026-03-12"), (*a2, "refuse", "2026-03-13"),
        (*a3, "submit", "2026-03-02"), (*a3, "confirm", "2026-03-03"),
        (*a5, "submit", "2026-03-02"), (*a5, "withdraw", "2026-03-04"),
    ])  # a4 stays a draft: never counted
    return names


def test_registered_and_expiring_by_province_and_specialty(in_world):
    table = statistics.registered(MARCH)
    assert table.cells == {("11", "building"): 3, ("11", "mining"): 1, ("31", "building"): 1}
    assert table.row_totals == {"11": 3, "31": 1} and table.total == 4
    expiring = statistics.expiring(MARCH)  # 90 days by default
    assert expiring.cells == {("11", "building"): 2} and expiring.total == 2
    from dataclasses import replace

    assert statistics.expiring(replace(MARCH, expiring_days=30)).cells == {("11", "building"): 1}
    assert statistics.registered(replace(MARCH, province="31")).cells == {("31", "building"): 1}
    only_mining = statistics.registered(replace(MARCH, specialty="mining"))
    assert only_mining.cells == {("11", "mining"): 1} and only_mining.columns == ["mining"]


def test_applications_by_type_state_province_and_month(in_world):
    figures = statistics.applications(MARCH)
    assert figures.by_type_state.cells == {("initial", "province_review"): 1, ("initial", "ministry_review"): 1,
                                           ("initial", "refused"): 1, ("initial", "withdrawn"): 1}
    assert figures.by_province_state.cells == {("11", "ministry_review"): 1, ("11", "refused"): 1,
                                               ("11", "withdrawn"): 1, ("31", "province_review"): 1}
    assert figures.by_month == [("2026-03", 4)] and figures.submitted == 4
    # Now: a1 waits for the ministry, a3 for province 31; both deadlines (20 working days) passed in April.
    assert figures.pending.cells == {("11", "ministry_review"): 1, ("31", "province_review"): 1}
    assert figures.pending_overdue == {"11": 1, "31": 1}
    assert statistics.applications(statistics.Filters(date(2026, 4, 1), date(2026, 4, 30))).submitted == 0


def test_stage_times_median_p90_and_overdue(in_world):
    rows = {r.stage: r for r in statistics.stage_times(MARCH)}
    enterprise = rows["enterprise_review"]
    # Working days in the enterprise stage: a1 3, a2 8 (limit 5), a3 1, a5 2 (withdrawn).
    assert (enterprise.count, enterprise.median, enterprise.p90, enterprise.overdue) == (4, 2, 8, 1)
    province = rows["province_review"]
    # a1 11 working days (6–20 March), a2 1; a3 is still there, past its deadline.
    assert (province.count, province.median, province.p90, province.overdue) == (2, 1, 11, 0)
    assert (province.open_count, province.open_overdue) == (1, 1)
    assert (rows["ministry_review"].count, rows["ministry_review"].open_count) == (0, 1)
    assert enterprise.limit == "5" and province.limit == "5–20"
    late_march = statistics.Filters(date(2026, 3, 10), date(2026, 3, 31), province="11")
    rows = {r.stage: r for r in statistics.stage_times(late_march)}
    assert (rows["enterprise_review"].count, rows["enterprise_review"].median) == (1, 8)


def test_refusals_by_reason(in_world):
    assert [(code, n) for code, _label, n in statistics.refusals(MARCH)] == [("dual_employment", 1)]
    from dataclasses import replace

    assert statistics.refusals(replace(MARCH, province="31")) == []


def test_nearest_rank_percentiles():
    assert statistics.nearest_rank({}, 0.5) is None
    assert statistics.nearest_rank({1: 1, 2: 1, 3: 1, 8: 1}, 0.5) == 2
    assert statistics.nearest_rank({1: 1, 2: 1, 3: 1, 8: 1}, 0.9) == 8
    assert statistics.nearest_rank({5: 10}, 0.9) == 5


@pytest.mark.parametrize("args, message", [
    ({"date_from": "2026-13-01"}, "Dates are written like 2026-01-31."),
    ({"date_from": "2026-05-01", "date_to": "2026-04-01"}, "The period starts after it ends."),
    ({"province": "99"}, "Unknown province."),
    ({"business_type": "nope"}, "Unknown business type."),
    ({"expiring_days": "0"}, "Expiring within: a number of days from 1 to 3660."),
])
def test_bad_filters_are_refused_with_a_message(in_world, args, message):
    from flask import g
    from flask_babel import force_locale

    g.test_locale = "en"  # flask-babel forces a locale only where g is not empty
    with force_locale("en"):
        with pytest.raises(statistics.FilterError) as caught:
            statistics.Filters.from_args(args)
        assert str(caught.value) == message


# --- The pages -------------------------------------------------------------------------------------
def _pdf_text(data: bytes) -> str:
    """The PDF's text without white space (table cells wrap)."""
    text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return re.sub(r"\s+", "", text)


def test_ministry_dashboard_shows_the_figures_and_the_pdf_report_matches(world):
    app, _names = world
    with app.app_context():
        f.make_user("Ministry", username="stats-ministry")
    client = login(app.test_client(), "stats-ministry")
    page = client.get("/dashboard/?date_from=2026-03-01&date_to=2026-03-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Registered constructors by province and specialty" in html and "data:image/svg+xml;base64," in html
    assert "Employed by more than one enterprise" in html  # the refusal reason
    pdf = client.get("/dashboard/pdf?date_from=2026-03-01&date_to=2026-03-31")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = _pdf_text(pdf.data)
    assert "Registrationstatisticsreport" in text and "2026-03-01" in text
    assert "Employedbymorethanoneenterprise" in text
    bad = client.get("/dashboard/?date_from=nonsense", follow_redirects=True)
    assert bad.status_code == 200 and "Dates are written like 2026-01-31." in bad.get_data(as_text=True)


def test_province_sees_only_its_province_and_its_roster(world):
    app, names = world
    with app.app_context():
        f.make_user("Province", username="stats-province-31", province_code="31")
    client = login(app.test_client(), "stats-province-31")
    # Asking for another province changes nothing: the scope is the user's province.
    page = client.get("/dashboard/?date_from=2026-03-01&date_to=2026-03-31&province=11")
    assert page.status_code == 200
    html = page.get_data(as_text=True).split('class="support-footer"')[0]  # the footer's address is in Beijing
    assert "Shanghai" in html and "Beijing" not in html
    roster = job_result(client, "/dashboard/roster?province=11")  # a job; the province is still the user's
    text = _pdf_text(roster.data)
    assert names["r4"] in text and names["r1"] not in text and names["r5"] not in text and names["r6"] not in text


def test_ministry_roster_of_a_province(world):
    app, names = world
    with app.app_context():
        f.make_user("Ministry", username="stats-ministry-2")
    client = login(app.test_client(), "stats-ministry-2")
    text = _pdf_text(job_result(client, "/dashboard/roster?province=11").data)
    assert all(names[k] in text for k in ("r1", "r2", "r3")) and names["r4"] not in text
    assert "Rosterofregisteredconstructors" in text
    # Without a province: back to the dashboard with a message.
    assert client.get("/dashboard/roster").status_code == 302


def test_enterprise_sees_only_itself_and_has_no_province_roster(world):
    app, names = world
    with app.app_context():
        employer = db.session.query(Registration).join(Registration.person).filter_by(name=names["r1"]).one()
        username = f.make_user("Enterprise", enterprise_id=employer.enterprise_id)  # e11a: r1, r2; a1, a2
        f.make_user("Ministry", username="stats-ministry-e")
    client = login(app.test_client(), username)
    page = client.get("/dashboard/?date_from=2026-03-01&date_to=2026-03-31&province=31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    figures = {name: value for value, name in
               re.findall(r'<div class="value">([\d,]+)</div><div class="name">([^<]+)</div>', html)}
    assert figures["Registered constructors now"] == "2"  # r1 and r2, not r3 (other enterprise) nor Shanghai
    assert figures["Submitted in the period"] == "2"  # a1 and a2
    assert figures["Refused in the period"] == "1"  # a2
    assert 'id="province"' not in html and "/dashboard/roster" not in html
    assert client.get("/dashboard/roster?province=11").status_code == 403
    ministry = login(app.test_client(), "stats-ministry-e").get("/dashboard/?date_from=2026-03-01&date_to=2026-03-31")
    assert 'id="province"' in ministry.get_data(as_text=True)


@pytest.mark.parametrize("role", ["Applicant", "Admin"])
def test_other_roles_get_403(world, role):
    app, _names = world
    with app.app_context():
        username = f.make_user(role) if role != "Applicant" else f.make_applicant()[0]
    client = login(app.test_client(), username)
    for url in ("/dashboard/", "/dashboard/pdf", "/dashboard/roster?province=11"):
        assert client.get(url).status_code == 403, url


def test_anonymous_is_sent_to_sign_in(world):
    app, _names = world
    response = app.test_client().get("/dashboard/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_shared_figures_are_reused_until_recalculated(world):
    """With the cache on, the page shows the stored snapshot (not today's rows) until "recalculate" runs the
    statistics job (at once here: JOBS_EAGER); reports/snapshots.py and tests/reports/test_snapshots.py."""
    app, _names = world
    with app.app_context():
        f.make_user("Ministry", username="stats-ministry-cache")
    client = login(app.test_client(), "stats-ministry-cache")
    shanghai = statistics.Filters(date(2026, 3, 1), date(2026, 3, 31), province="31")
    query = "&".join(f"{k}={v}" for k, v in shanghai.as_args().items())

    def registered_now():
        html = client.get("/dashboard/?" + query).get_data(as_text=True)
        return int(re.search(r'<div class="value">([\d,]+)</div><div class="name">Registered constructors now',
                             html).group(1).replace(",", ""))

    app.config["STATISTICS_CACHE_SECONDS"] = 600
    try:
        page = client.get("/dashboard/?" + query).get_data(as_text=True)
        assert "Recalculate now" in page and "Computed at" in page
        before = registered_now()
        with app.app_context():
            f.make_registered(f.make_enterprise("31"), name="新登记")
        assert registered_now() == before  # kept
        # The page's "recalculate" recomputes, then shows the filters again without asking again.
        refreshed = client.get("/dashboard/?refresh=1&" + query)
        assert refreshed.status_code == 302 and "refresh" not in refreshed.headers["Location"]
        assert registered_now() == before + 1
    finally:
        app.config["STATISTICS_CACHE_SECONDS"] = 0
