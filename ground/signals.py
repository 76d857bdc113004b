"""Signals the domain sends and the layers above listen to, so the domain never imports them (blinker)."""
from blinker import Namespace

_signals = Namespace()

# Sent with the account (sender) whose password was just set by its owner or an administrator.
password_changed = _signals.signal("password-changed")
