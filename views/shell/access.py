"""Policy enforcement FAB leaves out: its list and row actions answer a missing permission with a
flash and a redirect, for anonymous visitors too. Here they get the sign-in page (anonymous), 404
(no such action on the view) or 403 (the role lacks the action's permission), like every other door.
"""
from flask import abort, current_app, redirect, request, url_for


def view_of(endpoint: str):
    """The registered view behind an endpoint ("PersonsView.list") or a view name ("PersonsView"), or None."""
    name = endpoint.split(".", 1)[0]
    return next((v for v in current_app.appbuilder.baseviews if v.__class__.__name__ == name), None)


def enforce_action_permissions():
    endpoint = request.endpoint or ""
    if not endpoint.endswith((".action", ".action_post")):
        return None
    view = view_of(endpoint)
    if view is None or not hasattr(view, "actions"):
        return None
    sm = current_app.appbuilder.sm
    user = sm.current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return redirect(url_for(f"{sm.auth_view.__class__.__name__}.login"))
    name = (request.view_args or {}).get("name") if endpoint.endswith(".action") else request.form.get("action", "")
    if name not in view.actions:
        abort(404)
    if not sm.has_access(view.get_action_permission_name(name), view.class_permission_name):
        abort(403)
    return None


def install(app):
    app.before_request(enforce_action_permissions)
