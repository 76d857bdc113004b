"""Public endpoints anonymous visitors need before they can sign in: the image captcha.

No @has_access here on purpose: FAB only registers permissions for decorated methods.
"""
from flask import abort, jsonify, make_response, url_for
from flask_appbuilder import BaseView, expose

from app.services import captcha


class CaptchaView(BaseView):
    route_base = "/captcha"
    default_view = "new"

    @expose("/new")
    def new(self):
        """A fresh challenge: its nonce and image URL (for the refresh link and API clients)."""
        nonce = captcha.new_challenge()
        resp = jsonify({"nonce": nonce, "image": url_for(".image", nonce=nonce)})
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @expose("/<nonce>.png")
    def image(self, nonce):
        png = captcha.render_png(nonce)
        if png is None:
            abort(404)
        resp = make_response(png)
        resp.headers["Content-Type"] = "image/png"
        resp.headers["Cache-Control"] = "no-store"
        return resp
