"""schemathesis against the API's own description (/api/v1/_openapi), in process (WSGI), signed in with a
JWT as an applicant, an enterprise officer and the ministry: no server error on any operation, for data
that fits the schema (positive) and data that does not (negative).

Checks run on every response:
- not_a_server_error: the rule of the suite.
- content_type_conformance, response_headers_conformance: what FAB documents is what it sends.
- allow_header_conformance: 405 answers say which methods exist.
Checks left out, and why:
- response_schema_conformance: FAB's generated response schemas are looser than true: they declare the
  list's `ids` as strings (it sends the integer keys) and timestamps as RFC 3339 `date-time` (it sends
  naive ISO timestamps without an offset).
- status_code_conformance: FAB documents a fixed set of codes per operation; the business rules answer
  others on purpose (409 for a state conflict, 403 for a role without the permission, 404 out of scope).
- negative_data_rejection: FAB ignores unknown query arguments and the draft schema ignores unknown keys
  (marshmallow EXCLUDE), both on purpose, so some schema-invalid requests succeed.
- positive_data_acceptance: schema-valid data is still refused by the business rules (422/409).
- ignored_auth, use_after_free, ensure_resource_availability, object_level_authorization: stateful or
  multi-identity checks; sign-in and row scope have their own tests (tests/app/test_scope.py, tests/views).

Record ids are drawn from this module's own applications (or ids no row has), so random moves never touch
another test's data.
"""
import pytest
import schemathesis
from hypothesis import given
from hypothesis.errors import Unsatisfiable
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks, not_a_server_error

from tests import factories as f
from tests.security.helpers import bearer, hostile_settings, hostile_world

EXAMPLES = 6  # per operation, mode and role


def _checks():
    load_all_checks()
    from schemathesis.specs.openapi import checks as oc

    return [not_a_server_error, oc.content_type_conformance, oc.response_headers_conformance,
            oc.allow_header_conformance]


@pytest.fixture(scope="module")
def own(app):
    """Applications this module may move at random: one per stage, and the applicant's draft."""
    world = hostile_world(app)
    with app.app_context():
        staff = f.Staff()
        staff._cache.update({("Enterprise", world.e1): world.users["ent1"], ("Ministry",): world.users["ministry"],
                             ("Province", "11"): world.users["prov11"]})
        applicant, _person = f.make_applicant()
        draft = f.make_application(applicant, "initial", enterprise_id=world.e1)
        ids = [draft]
        for actions in (("submit",), ("submit", "confirm", "pass")):
            username, _pid = f.make_applicant()
            app_id = f.make_application(username, "initial", enterprise_id=world.e1)
            staff.take(app_id, username, *actions)
            ids.append(app_id)
    return {"users": {"Applicant": applicant, "Enterprise": world.users["ent1"], "Ministry": world.users["ministry"]},
            "applications": ids}


@pytest.fixture(scope="module")
def schema(app, own):
    return schemathesis.openapi.from_wsgi("/api/v1/_openapi", app, headers=bearer(app, own["users"]["Ministry"]))


def _safe_ids(own):
    """Our own applications, and ids no row has (zero, the integer column's edge, beyond it)."""
    return st.sampled_from(own["applications"] + [0, 2**31 - 1, 2**31, 2**63])


def _is_record_id(value) -> bool:
    text = str(value)
    return text.isascii() and text.lstrip("-").isdigit()


@pytest.mark.parametrize("role", ["Applicant", "Enterprise", "Ministry"])
def test_api_has_no_server_errors(app, schema, own, role):
    headers = bearer(app, own["users"][role])
    checks = _checks()
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if not op.path.endswith("/security/logout")]  # revokes the token in use
    assert len(operations) >= 15, [op.label for op in operations]  # the description lists every resource
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @hostile_settings(EXAMPLES)
            @given(case=strategy, pk=_safe_ids(own))
            def run(case, pk):
                if "pk" in (case.path_parameters or {}) and _is_record_id(case.path_parameters["pk"]):
                    case.path_parameters["pk"] = pk  # never another test's record
                response = case.call(headers=headers)
                case.validate_response(response, checks=checks, headers=headers)

            try:
                run()
            except Unsatisfiable:
                continue  # nothing invalid to send (e.g. an operation whose schema admits any body)
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failures, report together
                failures.append(f"{role} {operation.label} ({mode.value}): {type(exc).__name__}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
