"""The API contract: /api/v1/_openapi as a valid, complete OpenAPI 3.0 description a generated client can use.

FAB builds the description from the views' docstrings (apispec); this module finishes it:
- an English `info.title` (client generators make the package name of it; the Chinese name is `x-title-zh`);
- one security scheme, `jwt` (bearer JWT from POST /api/v1/security/login; `jwt_refresh` for the refresh
  call); FAB's `api_key` is left out (FAB_API_KEY_ENABLED is off);
- an `operationId` per operation (<resource>_<method>), so generated functions have stable names;
- operations no role can take (a resource's write methods its class does not grant) are left out (they answer
  403), with the schemas only they used;
- every error status an operation can answer (400 401 403 404 409 422 429) documented with a JSON schema
  (`Error`, `BadRequest`);
- the sign-in captcha, GET /captcha/new (outside /api; its errors are JSON too, views/errors.py): a client needs
  it to log in. Its image is for a person to read, so it is an address in the answer, not an operation.
Served to signed-in users as before (permission OpenApi.can_get).
"""
import copy

from flask import current_app
from flask_appbuilder.api import BaseApi, expose, protect, safe
from flask_appbuilder.api.manager import OpenApi as FabOpenApi

TITLE = "Constructor Registry API"  # openapi-python-client: package constructor_registry_api_client

_MESSAGES = {"type": "array", "items": {"type": "string"}}
SCHEMAS = {
    "Error": {
        "type": "object", "required": ["message"],
        "properties": {
            "message": {"type": "string", "description": "What went wrong, in the caller's language (?_l_=en)."},
            "reasons": {**_MESSAGES, "description": "Why a workflow move is not possible."},
            "fields": {"type": "object", "additionalProperties": _MESSAGES,
                       "description": "Invalid fields of the request body → their messages."},
            "request_id": {"type": "string", "description": "Quote it to technical support."},
        },
    },
    "BadRequest": {
        "type": "object", "required": ["message"],
        "properties": {
            "message": {"oneOf": [{"type": "string"},
                                  {"type": "object", "additionalProperties": _MESSAGES}],
                        "description": "A text, or the invalid fields → their messages."},
            "request_id": {"type": "string"},
        },
    },
    "Captcha": {
        "type": "object", "required": ["nonce", "image"],
        "properties": {
            "nonce": {"type": "string", "description": "Send it back as captcha_nonce."},
            "image": {"type": "string", "description": "Address of the PNG image to show the person (GET, no sign-in)."},
        },
    },
    "LoginInput": {
        "type": "object", "required": ["username", "password", "captcha_nonce", "captcha"],
        "properties": {
            "username": {"type": "string", "description": "ID number (applicants) or user name (staff)."},
            "password": {"type": "string", "format": "password"},
            "captcha_nonce": {"type": "string", "description": "From GET /captcha/new."},
            "captcha": {"type": "string", "description": "The characters of the captcha image."},
            "refresh": {"type": "boolean", "default": False, "description": "Also return a refresh token."},
            "provider": {"type": "string", "enum": ["db"], "description": "Ignored; sign-in is by password."},
        },
    },
    "Tokens": {
        "type": "object", "required": ["access_token"],
        "properties": {
            "access_token": {"type": "string", "description": "Send as `Authorization: Bearer <token>`."},
            "refresh_token": {"type": "string", "description": "Only when `refresh` was true."},
        },
    },
    "TransitionResult": {
        "type": "object", "required": ["id", "state", "version"],
        "properties": {
            "id": {"type": "integer"},
            "number": {"type": "string", "nullable": True, "description": "Application number, once submitted."},
            "state": {"type": "string"},
            "version": {"type": "integer", "description": "Send it with the next move or edit."},
        },
    },
    "MoveOption": {
        "type": "object", "required": ["action", "label", "allowed", "needs_opinion", "reasons"],
        "properties": {
            "action": {"type": "string"},
            "label": {"type": "string"},
            "allowed": {"type": "boolean"},
            "needs_opinion": {"type": "boolean"},
            "reasons": {**_MESSAGES, "description": "Why the move is blocked (empty when allowed)."},
            "reason_choices": {"type": "array", "nullable": True, "description": "[code, label] pairs for `reason`.",
                               "items": {"type": "array", "items": {"type": "string"}}},
        },
    },
    "MoveOptions": {
        "type": "object", "required": ["state", "version", "result"],
        "properties": {
            "state": {"type": "string"},
            "version": {"type": "integer"},
            "result": {"type": "array", "items": {"$ref": "#/components/schemas/MoveOption"}},
        },
    },
    "SmsSent": {
        "type": "object", "required": ["message"],
        "properties": {"message": {"type": "string", "description": "Where the code went (masked number)."}},
    },
}

_ERROR_TEXTS = {
    "400": ("BadRequest", "Malformed request: not JSON, or fields missing"),
    "401": ("Error", "Not signed in, token expired or revoked, or wrong credentials"),
    "403": ("Error", "Your role may not do this"),
    "404": ("Error", "No such record within your scope"),
    "409": ("Error", "Conflict: wrong state, stale version or a concurrent change"),
    "422": ("Error", "Refused by the rules; `fields` and `reasons` say why"),
    "429": ("Error", "Too many requests; retry after Retry-After seconds"),
    "500": ("Error", "Unexpected error"),
}


def _error_response(code):
    schema, text = _ERROR_TEXTS[code]
    response = {"description": text,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
    if code == "429":
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
    return response


_NO_AUTH = []  # an operation anyone may call
_JWT = [{"jwt": []}]

# Outside /api, but part of signing in.
CAPTCHA_PATHS = {
    "/captcha/new": {"get": {
        "operationId": "captcha_new", "tags": ["Captcha"], "security": _NO_AUTH,
        "summary": "A fresh sign-in captcha: its nonce and image address",
        "responses": {"200": {"description": "A new challenge (single use, expires)",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Captcha"}}}},
                      "429": {"$ref": "#/components/responses/429"}}}},
}

_OPERATION_NAMES = {"get_list": "list", "post": "create", "put": "update", "delete": "delete", "info": "info"}


def _operations(api: BaseApi):
    """(path, method, method name) of each route of one API class, as FAB describes them."""
    for name in dir(api):
        if api.include_route_methods is not None and name not in api.include_route_methods:
            continue
        if name in api.exclude_route_methods:
            continue
        func = getattr(api, name, None)
        for url, methods in getattr(func, "_urls", ()):
            for method in methods:
                yield api.path_helper(path=url), method.lower(), name


def _granted(api: BaseApi, name: str) -> bool:
    """False for a protected method whose permission the class does not have (FAB answers 403 to all)."""
    permission = api.get_method_permission(name)
    if not permission or not api.base_permissions:
        return True
    return f"can_{permission}" in api.base_permissions


def finish(spec: dict, apis) -> dict:
    """The description FAB built for `apis`, completed as the module docstring says."""
    spec = copy.deepcopy(spec)
    spec["info"] = {
        "title": TITLE, "version": spec["info"]["version"],
        "x-title-zh": current_app.appbuilder.app_name,
        "description": f"{current_app.appbuilder.app_name} — REST API. Sign in with POST /api/v1/security/login "
                       "(captcha from GET /captcha/new), then send `Authorization: Bearer <access_token>`. "
                       "Errors are JSON (`Error`); messages are Chinese unless `?_l_=en`.",
    }
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {}).update(copy.deepcopy(SCHEMAS))
    components["responses"] = {code: _error_response(code) for code in _ERROR_TEXTS}
    schemes = components.setdefault("securitySchemes", {})
    schemes.pop("api_key", None)
    schemes["jwt"] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                      "description": "access_token of POST /api/v1/security/login"}
    paths = spec["paths"]
    for api in apis:
        resource = (getattr(api, "resource_name", None) or type(api).__name__).lower().strip("_")
        for path, method, name in _operations(api):
            operation = paths.get(path, {}).get(method)
            if operation is None:
                continue
            if not _granted(api, name):
                del paths[path][method]
                continue
            operation["operationId"] = f"{resource}_{_OPERATION_NAMES.get(name, name)}"
            _complete(operation, path, protected=bool(api.get_method_permission(name)))
    for path in [p for p, ops in paths.items() if not ops]:
        del paths[path]
    paths.update(copy.deepcopy(CAPTCHA_PATHS))
    _drop_unused_schemas(spec)
    return spec


def _refs(node, found: set):
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _drop_unused_schemas(spec: dict):
    """Schemas only the left-out operations used (e.g. a read-only resource's post schema)."""
    schemas = spec["components"]["schemas"]
    used = _refs([spec["paths"], spec["components"]["responses"]], set())
    pending = set(used)
    while pending:
        pending = _refs([schemas[name] for name in pending if name in schemas], set()) - used
        used |= pending
    for name in set(schemas) - used:
        del schemas[name]


def _complete(operation: dict, path: str, protected: bool):
    """Security and the error statuses every such operation can answer."""
    operation["responses"] = responses = {str(k): v for k, v in operation.get("responses", {}).items()}
    if protected:
        operation["security"] = copy.deepcopy(_JWT)
        for code in ("401", "403"):
            responses.setdefault(code, {"$ref": f"#/components/responses/{code}"})
    elif "security" not in operation:
        operation["security"] = _NO_AUTH
    if "{pk}" in path:
        responses.setdefault("404", {"$ref": "#/components/responses/404"})


class OpenApi(FabOpenApi):
    """FAB's /api/<version>/_openapi, finished by `finish` (same endpoint and permission name as FAB's)."""

    @expose("/<version>/_openapi")
    @protect()
    @safe
    def get(self, version):
        """The OpenAPI description of one API version.
        ---
        get:
          parameters:
          - in: path
            schema:
              type: string
            name: version
          responses:
            200:
              description: The OpenAPI 3.0 description
              content:
                application/json:
                  schema:
                    type: object
            404:
              $ref: '#/components/responses/404'
        """
        api_spec = self._create_api_spec(version)
        apis = [v for v in current_app.appbuilder.baseviews if isinstance(v, BaseApi) and v.version == version]
        if not apis:
            return self.response_404()
        for api in apis:
            api.add_api_spec(api_spec)
        return self.response(200, **finish(api_spec.to_dict(), apis))
