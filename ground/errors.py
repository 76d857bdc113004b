"""The base of every refusal a user reads: `message` is a (lazily) translated string shown as is."""


class UserError(Exception):
    def __init__(self, message):
        super().__init__(str(message))
        self.message = message
