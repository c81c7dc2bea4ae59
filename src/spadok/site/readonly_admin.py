"""The admin is read-only: every change goes through the services, which write the
preservation events and the objects' metadata that a direct edit would skip."""

from __future__ import annotations

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Mix into a ModelAdmin or an inline to refuse adding, changing and deleting."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
