"""REST API (FAB ModelRestApi) with the panel's row scope, plus the workflow endpoints.

GET  /api/v1/<resource>/ and /<pk>                 list and show, in scope (others → 404)
POST /api/v1/application/  PUT /api/v1/application/<pk>   applicant drafts (validated like the form)
GET  /api/v1/application/<pk>/transitions           the moves available to the caller
POST /api/v1/application/<pk>/transition/<action>   {"opinion": "...", "version": n}
Errors are JSON {"message": ..., "reasons": [...]} with a 4xx status.
"""
from flask import request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from app import submission, workflow
from app.business_types import APPLICANT_TYPES
from ground.extensions import db
from app.services import sms
from app.scope import current_user
from models import Enterprise

from views.base import ScopedRestApi
from views.workflow_views import may_take


class ApplicationInput(Schema):
    class Meta:
        unknown = EXCLUDE

    business_type = fields.String(required=True, validate=validate.OneOf(list(APPLICANT_TYPES)))
    enterprise_id = fields.Integer(allow_none=True)
    contract_start = fields.Date(allow_none=True)
    contract_end = fields.Date(allow_none=True)
    specialties = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list)
    pass_certificate_no = fields.String(allow_none=True, validate=validate.Length(max=32))
    reason = fields.String(allow_none=True, validate=validate.Length(max=40))
    reason_text = fields.String(allow_none=True, validate=validate.Length(max=2000))
    new_name = fields.String(allow_none=True, validate=validate.Length(max=50))
    new_id_number = fields.String(allow_none=True, validate=validate.Length(max=20))
    version = fields.Integer(allow_none=True)


class ApplicationUpdate(ApplicationInput):
    """Same fields as a new draft; `version` guards against overwriting someone else's change."""


class TransitionInput(Schema):
    class Meta:
        unknown = EXCLUDE

    opinion = fields.String(allow_none=True, validate=validate.Length(max=workflow.OPINION_MAX_LENGTH),
                            metadata={"description": "Required where the move's needs_opinion is true."})
    version = fields.Integer(allow_none=True, metadata={"description": "The version you read (stale: 409)."})
    sms_code = fields.String(allow_none=True, validate=validate.Length(max=6),
                             metadata={"description": "submit: the code of POST .../sms."})
    attested = fields.Boolean(load_default=False,
                              metadata={"description": "confirm: the enterprise attests the employment."})
    reason = fields.String(allow_none=True, validate=validate.Length(max=40),
                           metadata={"description": "refuse, opine: a code of the move's reason_choices."})


def _json_body():
    """The JSON body ({} when empty), or None when it is not JSON (a broken body must not act as an empty one)."""
    if not request.get_data():
        return {}
    return request.get_json(silent=True)


def _error(api, status, message, reasons=(), fields_=None):
    body = {"message": str(message), "reasons": [str(r) for r in reasons]}
    if fields_:
        body["fields"] = {k: [str(m) for m in v] for k, v in fields_.items()}
    return api.response(status, **body)


class ApplicationRestApi(ScopedRestApi):
    """Applications: scoped read; applicant drafts; workflow moves."""

    openapi_spec_component_schemas = (TransitionInput,)

    def add_api_spec(self, api_spec):
        """FAB documents a draft's save as returning the input schema; it returns the record as shown."""
        super().add_api_spec(api_spec)
        shown = {"$ref": f"#/components/schemas/{type(self).__name__}.get"}
        for path, method, code in (("/", "post", 201), ("/{pk}", "put", 200)):
            operation = api_spec._paths.get(f"{self.route_base}{path}", {}).get(method)
            if not operation:
                continue
            responses = operation["responses"]  # apispec keys statuses as strings
            body = {"type": "object", "required": ["result"], "properties": {"result": shown}}
            if code == 201:
                body["required"].append("id")
                body["properties"]["id"] = {"type": "integer"}
            responses[str(code)]["content"]["application/json"]["schema"] = body
            for status in (403, 409):
                responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
        move = api_spec._paths.get(f"{self.route_base}/{{pk}}/transition/{{action}}", {}).get("post")
        for parameter in (move or {}).get("parameters", []):
            if parameter["name"] == "action":
                parameter["schema"]["enum"] = sorted(workflow.TRANSITIONS)

    def _load_input(self):
        """(the draft typed into the request body, an error response)."""
        body = _json_body() if request.is_json else None
        if body is None:
            return None, _error(self, 400, _("Request is not JSON."))
        try:
            data = ApplicationInput().load(body)
        except ValidationError as err:
            return None, _error(self, 422, _("Some fields are invalid."), fields_=err.messages)
        values = dict(data)
        values["enterprise"] = None
        if data.get("enterprise_id") is not None:
            values["enterprise"] = db.session.get(Enterprise, data["enterprise_id"])
            if values["enterprise"] is None:
                return None, _error(self, 422, _("Some fields are invalid."),
                                    fields_={"enterprise_id": [_("Unknown employer.")]})
        return submission.Submission(data["business_type"], values, version=data.get("version"),
                                     incomplete_draft_allowed=False), None

    def _save(self, item, status):
        proposal, error = self._load_input()
        if error:
            return error
        try:
            item = submission.save(current_user(), proposal, item)
        except submission.SubmissionRejected as exc:
            return _error(self, 422, _("Some fields are invalid."), fields_=exc.fields)
        except workflow.WorkflowError as exc:
            return _error(self, exc.status, exc.message, exc.reasons)
        if status == 201:
            return self.response(201, id=item.id, result=self.show_model_schema.dump(item))
        return self.response(200, result=self.show_model_schema.dump(item))

    def post_headless(self):
        return self._save(None, 201)

    def put_headless(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            return self.response_404()
        return self._save(item, 200)

    @expose("/<int:pk>/transitions", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @permission_name("get")  # reading in scope; each move is checked against its own permission
    def transitions(self, pk):
        """Moves available to the caller on one application.
        ---
        get:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          responses:
            200:
              description: "available moves, each allowed or blocked with reasons"
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/MoveOptions'}
            404: {$ref: '#/components/responses/404'}
        """
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            return self.response_404()
        options = [o for o in workflow.available(item, current_user()) if may_take(o.action)]
        return self.response(200, state=item.state, version=item.version, result=[
            {"action": o.action, "label": str(o.transition.label), "allowed": o.allowed,
             "needs_opinion": o.transition.needs_opinion, "reasons": [str(r) for r in o.reasons],
             "reason_choices": [list(c) for c in o.transition.reasons().choices()] if o.transition.reasons() else None}
            for o in options
        ])

    @expose("/<int:pk>/transition/<action>", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @permission_name("get")
    def transition(self, pk, action):
        """Take a workflow move on one application.
        ---
        post:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          - in: path
            name: action
            description: "a move of GET .../transitions (submit, confirm, pass, approve, return, refuse, …)"
            schema: {type: string}
          requestBody:
            required: true
            content:
              application/json:
                schema: {$ref: '#/components/schemas/TransitionInput'}
          responses:
            200:
              description: the new state
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/TransitionResult'}
            400: {$ref: '#/components/responses/400'}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
            409: {$ref: '#/components/responses/409'}
            422: {$ref: '#/components/responses/422'}
        """
        body = _json_body() if request.is_json else None  # not JSON: also keeps cross-site HTML forms out
        if body is None:
            return _error(self, 400, _("Request is not JSON."))
        try:
            data = TransitionInput().load(body)
        except ValidationError as err:
            return _error(self, 422, _("Some fields are invalid."), fields_=err.messages)
        if self.datamodel.get(pk, self._base_filters) is None or action not in workflow.TRANSITIONS:
            return self.response_404()
        if not may_take(action):
            return _error(self, 403, _("Your role may not take this action."))
        user = current_user()
        try:
            if workflow.TRANSITIONS[action].needs_sms and data.get("sms_code"):
                item = submission.submit(user, pk, data["sms_code"], version=data.get("version"))
            else:
                item = workflow.apply(pk, workflow.Move(action, opinion=data.get("opinion"), version=data.get("version"),
                                                        reason=data.get("reason"), attested=data.get("attested", False)),
                                      user)
        except submission.SubmissionRejected as exc:
            sms_errors = exc.fields.get("sms_code", [])
            return _error(self, 422, sms_errors[0] if sms_errors else exc.message, fields_=exc.fields)
        except workflow.WorkflowError as exc:
            return _error(self, exc.status, exc.message, exc.reasons)
        return self.response(200, id=item.id, number=item.number, state=item.state, version=item.version)

    @expose("/<int:pk>/sms", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @permission_name("get")
    def send_sms(self, pk):
        """Send the applicant the SMS code that signs a submission (POST .../transition/submit {"sms_code"}).
        ---
        post:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          responses:
            200:
              description: code sent to the applicant's mobile on file
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/SmsSent'}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        item = self.datamodel.get(pk, self._base_filters)
        person = getattr(current_user(), "person", None)
        if item is None or person is None or item.person_id != person.id:
            return self.response_404()
        if not person.phone:
            return _error(self, 422, _("No mobile number is on file; add it under Personal information."))
        try:
            sms.send_code(person.phone, "apply")
        except sms.SmsError as exc:
            return _error(self, 422, exc.message)
        return self.response(200, message=_("An SMS code was sent to %(phone)s.", phone=sms.mask_phone(person.phone)))
