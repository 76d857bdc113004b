"""Security headers on every response, through Flask-Talisman.

Content-Security-Policy without inline script: every <script> of the panel (FAB's templates and ours)
carries the per-request nonce; styles may be inline (FAB's widgets set style attributes), images may
be data: URIs (charts, captcha previews). Nothing loads from another origin. Frames: none. In
production (`REGISTRY_ENV=production` or `FORCE_HTTPS`) plain HTTP is redirected and HSTS is sent.
"""
from flask import request
from flask_talisman import Talisman

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

def csp_nonce() -> str:
    return getattr(request, "csp_nonce", "")


def install(app):
    https = app.config.get("FORCE_HTTPS", False)
    Talisman(  # one per app: Talisman keeps its options on the instance
        app,
        content_security_policy=CSP,
        content_security_policy_nonce_in=["script-src"],
        force_https=https,
        strict_transport_security=https,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        session_cookie_secure=app.config.get("SESSION_COOKIE_SECURE", False),
        session_cookie_http_only=True,
        session_cookie_samesite=app.config.get("SESSION_COOKIE_SAMESITE", "Lax"),
        permissions_policy={"camera": "()", "microphone": "()", "geolocation": "()", "browsing-topics": "()"},
    )
