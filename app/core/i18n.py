"""Translation: every user-facing string is an English message id, translated when it is shown.

Python code marks strings with `N_` (extraction only, no translation at import time) and the
templates, the error adapter and the mailer translate them for the reader's language.

The catalogues live in `app/translations/<lang>/LC_MESSAGES/messages.po`; `make translations`
extracts the message ids and updates them, and every install compiles them to `.mo` files.

Which language a page is in:
1. a signed-in person's own setting (`Account.language`);
2. otherwise the language a visitor chose with the switcher (a cookie);
3. otherwise the best match for the browser's `Accept-Language` header;
4. otherwise English.
"""

from __future__ import annotations

import gettext as gettext_module
import logging
from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import format_date
from babel.support import Translations
from jinja2 import pass_context
from markupsafe import Markup

logger = logging.getLogger("marketplace.i18n")

DEFAULT_LANGUAGE = "en"
# Each language's own name for itself, the way the switcher shows it (never translated).
LANGUAGE_NAMES = {"en": "English", "cy": "Cymraeg"}
SUPPORTED_LANGUAGES = tuple(LANGUAGE_NAMES)
# The value of <html lang>: British English, and Welsh.
HTML_LANG = {"en": "en-GB", "cy": "cy"}
LANGUAGE_COOKIE = "marketplace_language"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS_DIR = Path(__file__).resolve().parents[1] / "translations"


def N_(message: str) -> str:  # noqa: N802 (the conventional gettext marker)
    """Mark a message for extraction; it is translated where it is shown, in the reader's language."""
    return message


def supported(language: str | None) -> str | None:
    """The language if this service has it, else None."""
    return language if language in SUPPORTED_LANGUAGES else None


@lru_cache(maxsize=len(SUPPORTED_LANGUAGES) + 1)
def translations(language: str) -> gettext_module.NullTranslations:
    """The compiled catalogue for a language (English is the message ids themselves)."""
    if language == DEFAULT_LANGUAGE or supported(language) is None:
        return gettext_module.NullTranslations()
    catalogue = Translations.load(str(TRANSLATIONS_DIR), [language], domain="messages")
    if not isinstance(catalogue, Translations):
        # The .mo files are built at install time (make install / make translations).
        logger.warning("no compiled catalogue for %r: run `make translations`; showing English", language)
    return catalogue


def negotiate(accept_language: str | None) -> str | None:
    """The best supported language for an `Accept-Language` header, or None.

    The header is parsed here (quality values, `*`, malformed parts ignored); Babel's
    `negotiate_locale` then picks the first preferred tag we have, matching `cy-GB` to `cy`.
    """
    if not accept_language:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    preferred = [tag for _q, _p, tag in sorted(weighted)]
    # Babel compares case-insensitively and falls back from `cy-GB` to `cy`; '-' is the HTTP separator.
    chosen = negotiate_locale(preferred, SUPPORTED_LANGUAGES, sep="-")
    return supported(chosen.lower()) if chosen else None


def request_language(request: Any) -> str:
    """The language to answer this request in (see the module docstring for the order)."""
    viewer = request.scope.get("state", {}).get("viewer")
    return (
        (supported(getattr(viewer, "language", None)) if viewer is not None else None)
        or supported(request.cookies.get(LANGUAGE_COOKIE))
        or negotiate(request.headers.get("accept-language"))
        or DEFAULT_LANGUAGE
    )


def gettext_for(language: str) -> Callable[[str], str]:
    """Plain gettext for a language: for Python code (field errors, flash messages, mail)."""
    return translations(language).gettext


def request_gettext(request: Any) -> Callable[[str], str]:
    """Plain gettext in the language of this request: for views that build text for a template."""
    return gettext_for(request_language(request))


def long_date(language: str, value: date | datetime) -> str:
    """A date the GOV.UK way ("5 December 2026"), with the month in the reader's language."""
    return format_date(value, format="d MMMM y", locale=Locale.parse(language))


def _new_gettext(catalogue: gettext_module.NullTranslations) -> Callable[..., str]:
    """Jinja newstyle gettext for one catalogue (as `jinja2.ext` builds it for installed ones):
    the translation is trusted like template text (Markup when autoescaping), and it is always
    %-formatted with the keyword variables, which are escaped."""

    @pass_context
    def gettext(__context, __string: str, **variables: Any) -> str:
        rv = catalogue.gettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    return gettext


def _new_ngettext(catalogue: gettext_module.NullTranslations) -> Callable[..., str]:
    @pass_context
    def ngettext(__context, __singular: str, __plural: str, __num: int, **variables: Any) -> str:
        variables.setdefault("num", __num)
        rv = catalogue.ngettext(__singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    return ngettext


@lru_cache(maxsize=len(SUPPORTED_LANGUAGES) + 1)
def template_context(language: str) -> dict[str, Any]:
    """What a template needs to speak `language`: the newstyle `gettext`/`ngettext`/`_` the i18n
    extension calls, the plain catalogue (for messages from Python) and the `lang` attribute."""
    catalogue = translations(language)
    gettext = _new_gettext(catalogue)
    return {
        "gettext": gettext,
        "_": gettext,
        "ngettext": _new_ngettext(catalogue),
        "translations": catalogue,
        "language": language,
        "html_lang": HTML_LANG.get(language, language),
    }


@pass_context
def translate_filter(context, message: Any) -> str:
    """`{{ message_id | translate }}`: translate a message id that came from Python (marked
    with `N_`). The result is plain text, escaped like any other value: unlike `_()` on a
    literal, the id may have been built with a person's input."""
    if message is None or message == "":
        return ""
    catalogue = context.get("translations") or gettext_module.NullTranslations()
    return catalogue.gettext(str(message))


@pass_context
def long_date_filter(context, value: date | datetime | None) -> str:
    if value is None:
        return ""
    return long_date(context.get("language") or DEFAULT_LANGUAGE, value)
