"""Templates filled with `str.format`, checked when they are made: every loop's prompts are data an optimizer may
rewrite, so a template that could not be filled is refused up front with one sentence, never at send time."""
from __future__ import annotations

import string


class PromptError(ValueError):
    """A template that cannot be filled: an unknown field, a stray brace, a format it may not use."""


def check_fields(name: str, template: str, allowed: tuple[str, ...]) -> None:
    """Refuse, naming the template and the field, a template `str.format` could not fill with `allowed` fields
    (literal braces are written `{{` and `}}`).

    >>> check_fields("retry", "That failed: {error}. {{json}} only.", ("error",))
    >>> check_fields("retry", "That failed: {eror}.", ("error",))
    Traceback (most recent call last):
    looplab._template.PromptError: the retry template uses the unknown field {eror}; it may use {error} (write literal braces as {{ and }})
    """
    where = f"the {name} template"
    if not isinstance(template, str):
        raise PromptError(f"{where} must be text, not {type(template).__name__}")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        raise PromptError(f"{where} has a stray brace ({e}); write literal braces as {{{{ and }}}}") from None
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in allowed:
            raise PromptError(f"{where} uses the unknown field {{{field}}}; it may use "
                              f"{', '.join('{' + f + '}' for f in allowed) or 'no fields'} "
                              "(write literal braces as {{ and }})")
        if spec or conversion:
            raise PromptError(f"{where} formats {{{field}}} ({conversion and '!' + conversion}{spec and ':' + spec}); "
                              "a field is filled as it is")
