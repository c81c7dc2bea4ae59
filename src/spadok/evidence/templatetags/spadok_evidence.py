"""``{% load spadok_evidence %}``: who may make evidence dossiers."""

from __future__ import annotations

from typing import Any

from django import template

from spadok.catalogue import selectors

register = template.Library()


@register.filter
def may_make_dossier(user: Any) -> bool:
    """Curators and administrators (dossiers carry exact locations and sealed material)."""
    return selectors.may_seal(user)
