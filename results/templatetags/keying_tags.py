"""Template helpers of the keying pages."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def lookup(mapping: Any, key: Any) -> Any:
    """``mapping[key]``, or an empty list when absent (problems of a field without any)."""
    try:
        return mapping.get(key, [])
    except AttributeError:
        return []


@register.simple_tag
def user_is_reviewer(user: Any) -> bool:
    from accounts.permissions import is_reviewer

    return is_reviewer(user)
