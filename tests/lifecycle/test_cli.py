"""`flask jobs run lifecycle-… --date D`: runs a nightly job as of a day, once; `--force` runs it again."""
from datetime import date, timedelta

from sqlalchemy import delete, select

from ground.extensions import db
from models import PeriodicRun, Person
from tests import factories as f

DAY = date(2027, 1, 5)


def test_a_nightly_job_runs_from_the_command_line_once_a_day(app):
    with app.app_context():
        # Other tests of this package may have run the job for that day (relative dates): start afresh.
        db.session.execute(delete(PeriodicRun).where(PeriodicRun.name == "lifecycle-lapse",
                                                     PeriodicRun.slot == DAY.isoformat()))
        db.session.commit()
        _, person_id = f.make_registered(f.make_enterprise())
        held = db.session.get(Person, person_id).registration.specialty("building")
        held.valid_until = DAY - timedelta(days=1)
        db.session.commit()

    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "lifecycle-lapse", "--date", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("lifecycle-lapse: as_of 2027-01-05, specialties_lapsed ")
    with app.app_context():
        registration = db.session.get(Person, person_id).registration
        assert (registration.status, registration.lapsed_on) == ("lapsed", DAY)
        run = db.session.scalar(select(PeriodicRun).where(PeriodicRun.name == "lifecycle-lapse",
                                                          PeriodicRun.slot == DAY.isoformat()))
        assert run.finished_at is not None and run.outcome["specialties_lapsed"] >= 1

    again = runner.invoke(args=["jobs", "run", "lifecycle-lapse", "--date", DAY.isoformat()])
    assert again.exit_code == 0 and "already ran" in again.output
    forced = runner.invoke(args=["jobs", "run", "lifecycle-lapse", "--date", DAY.isoformat(), "--force"])
    assert forced.exit_code == 0 and "specialties_lapsed 0" in forced.output

    unknown = runner.invoke(args=["jobs", "run", "lifecycle-nothing"])
    assert unknown.exit_code != 0 and "No periodic job" in unknown.output


def test_every_nightly_job_is_on_the_schedule(app):
    from app import lifecycle

    runner = app.test_cli_runner()
    listing = runner.invoke(args=["jobs", "list"]).output
    for name, _ in lifecycle.NIGHTLY:
        assert name in listing
