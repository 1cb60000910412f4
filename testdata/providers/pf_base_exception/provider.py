class Escape(BaseException):
    """Not an Exception: `except Exception` does not catch it."""


raise Escape("raised by the provider at import")
