"""The parameters in the body of a query method's POST: a JSON object or an HTML form.

Clients of the hosted API send either. Which one a body is follows from the body
first, the declared type second: a body that starts with ``{`` is JSON whatever its
``Content-Type`` says (``curl -d '{...}'`` declares a form), any other body is read as
a form when it is declared ``application/x-www-form-urlencoded``, and is refused
otherwise. A JSON ``null`` is the same as a parameter left out, so a null in the body
leaves a query-string value of the same name in force.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson

from engactivity.core.problems import InvalidRequest, Problem

FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 1000
"""A form names a few parameters (and, signed in the body, seven ``oauth_`` ones)."""

BODY_ALLOWED = (
    f"a JSON object of parameters, or form fields (name=value&...) with Content-Type: {FORM}"
)


def is_form(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == FORM


def body_params(raw: bytes, content_type: str) -> dict[str, object]:
    """The parameters the body gives (none for an empty body); InvalidRequest if it
    is neither a JSON object nor a form."""
    text = raw.strip()
    if not text:
        return {}
    if not text.startswith(b"{") and is_form(content_type):
        return _form(raw)
    return _json(raw)


def _json(raw: bytes) -> dict[str, object]:
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    return {name: value for name, value in body.items() if value is not None}


def _form(raw: bytes) -> dict[str, object]:
    try:
        text = raw.decode("utf-8")
        # A name given twice: the last value counts, as in the query string.
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except UnicodeDecodeError:
        raise _invalid("the form body is not UTF-8") from None
    except ValueError:
        raise _invalid(f"the form body has more than {MAX_FORM_FIELDS} fields") from None


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest([Problem("body", message, BODY_ALLOWED)])
