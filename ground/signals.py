"""Signals the domain sends and the layers above listen to, so the domain never imports them (blinker)."""
from blinker import Namespace

_signals = Namespace()

# Sent with the account (sender) whose password was just set by its owner or an administrator.
password_changed = _signals.signal("password-changed")
# Sent with the action name ("login_failed", …) when a sign-in event is recorded (app/audit.py): /metrics counts them.
login_event = _signals.signal("login-event")
