"""The GraphQL API. It reads the domain (``results``); the domain never imports it."""

from .root import schema

__all__ = ["schema"]
