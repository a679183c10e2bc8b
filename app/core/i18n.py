"""Translation: every user-facing string is an English message id, translated when it is shown.

Python code marks strings with `N_` (extraction only, no translation at import time) and the
templates, the error adapter and the mailer translate them for the reader's language.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 (the conventional gettext marker)
    """Mark a message for extraction; it is translated where it is shown, in the reader's language."""
    return message
