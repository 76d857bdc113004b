"""Shared extension instances (one place), initialised by create_app()."""
from flask_caching import Cache
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from ground.replica import RoutingSession

db = SQLA(session_options={"class_": RoutingSession})  # SELECTs inside replica.reads() may go to a replica
csrf = CSRFProtect()
migrate = Migrate()
cache = Cache()  # the shared cache: use it through ground/cache.py (JSON values, outage-safe)
