"""The one adapter between pydantic and people: a `ValidationError` becomes GOV.UK field errors.

Domain models (`XCreate`, `XUpdate`) declare their limits with `Annotated` types and raise
`Plain(message, **params)` from their validators; pages call `parse(Model, form_data)` and show
the errors beside the fields, and the API's 422 handler turns the same errors into
`{"errors": [{"field", "message"}]}`. Pydantic's own messages never reach a person: each error
type we can meet is mapped to a plain-English message here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, Strict, ValidationError

from app.core.errors import FieldError, InvalidInput
from app.core.i18n import N_

M = TypeVar("M", bound=BaseModel)


class Plain(ValueError):
    """Raised by a validator: a message a person can act on (an `N_`-marked id and its params)."""

    def __init__(self, template: str, **params: Any):
        self.template = template
        self.params = params or None
        super().__init__(template % params if params else template)


def _refuse_truth_value(raw: Any) -> Any:
    # Pydantic's lax mode reads JSON `true` as 1; an id, a version or a count never means yes.
    if isinstance(raw, bool):
        raise Plain(N_("Enter a whole number"))
    return raw


WholeNumber = Annotated[int, BeforeValidator(_refuse_truth_value)]
# ...and a yes-or-no answer is JSON `true` or `false`, never the text "0" or "off" (forms turn
# their "yes" into a real bool before parsing).
YesNo = Annotated[bool, Strict()]

_LOCATION_PREFIXES = ("body", "query", "path", "header", "cookie")

_MESSAGES = {
    "missing": N_("This field is required"),
    "json_invalid": N_("The request body is not valid JSON"),
    "model_attributes_type": N_("Send a JSON object"),
    "model_type": N_("Send a JSON object"),
    "dict_type": N_("Send a JSON object"),
    "string_type": N_("Enter text"),
    "int_type": N_("Enter a whole number"),
    "int_parsing": N_("Enter a whole number"),
    "int_from_float": N_("Enter a whole number"),
    "float_type": N_("Enter a number"),
    "float_parsing": N_("Enter a number"),
    "finite_number": N_("Enter a number"),
    "bool_type": N_("Choose yes or no"),
    "bool_parsing": N_("Choose yes or no"),
    "list_type": N_("Send a list"),
    "date_type": N_("Enter a real date, like 2027-05-31"),
    "date_parsing": N_("Enter a real date, like 2027-05-31"),
    "date_from_datetime_parsing": N_("Enter a real date, like 2027-05-31"),
    "date_from_datetime_inexact": N_("Enter a real date, like 2027-05-31"),
    "enum": N_("Choose one of the options"),
    "literal_error": N_("Choose one of the options"),
    "extra_forbidden": N_("There is no field called '%(name)s'"),
    "value_error": N_("This value is not valid"),
}


def field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in _LOCATION_PREFIXES]
    return ".".join(parts) or "body"


def _field_error(error: Mapping[str, Any]) -> FieldError:
    kind = error.get("type", "")
    loc = tuple(error.get("loc", ()))
    field = "body" if kind == "json_invalid" else field_name(loc)
    context = error.get("ctx") or {}
    cause = context.get("error")
    if isinstance(cause, Plain):
        return FieldError(field, cause.template, cause.params)
    if kind in ("string_too_long", "too_long"):
        limit = context.get("max_length")
        if kind == "too_long":
            return FieldError(field, N_("Choose up to %(max)s"), {"max": limit})
        return FieldError(field, N_("Use %(max)s characters or fewer"), {"max": limit})
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return FieldError(field, N_("Enter a number in the allowed range"))
    if kind == "extra_forbidden":
        return FieldError(field, _MESSAGES[kind], {"name": str(loc[-1])[:40] if loc else field})
    if kind == "missing" or error.get("input", "") is None and kind.endswith("_type"):
        return FieldError(field, N_("This field is required") if kind == "missing" else N_("This field cannot be empty"))
    return FieldError(field, _MESSAGES.get(kind, N_("This value is not valid")))


def errors_from_pydantic(errors: list[Mapping[str, Any]]) -> list[FieldError]:
    """Field errors, one per field (the first problem with each is the one worth reading)."""
    seen: dict[str, FieldError] = {}
    for error in errors:
        problem = _field_error(error)
        seen.setdefault(problem.field, problem)
    return list(seen.values())


def parse(model: type[M], data: Mapping[str, Any], *, context: Mapping[str, Any] | None = None) -> M:
    """Validate form or body data into a domain model, or raise `InvalidInput` with every problem.

    `context` lets a domain's validators ask the database (e.g. "is this postcode known?"), so a
    page shows every problem at once; services still check, since the API parses without it.
    """
    try:
        return model.model_validate(dict(data), context=dict(context) if context else None)
    except ValidationError as error:
        raise InvalidInput(errors_from_pydantic(error.errors())) from None


MAX_ID = 2**63 - 1  # the largest id either database can hold


def id_from_text(value: str) -> int | None:
    """A form's id field as a number, or None: ASCII digits only ("²".isdigit() is true, but
    int() refuses it) and no larger than a database id."""
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if number <= MAX_ID else None
