"""The one base class of the errors pano360 raises for the user to act on."""


class Pano360Error(Exception):
    """Input, params or state that cannot be used as it is; the message names the file, row or
    key and says what to do. Stages print it as one line and exit 1 (no traceback)."""
