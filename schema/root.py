"""The root schema: one module per domain, merged here."""

import strawberry
from strawberry.tools import merge_types
from strawberry_django.optimizer import DjangoOptimizerExtension

from .elections import ElectionQuery
from .events import EventQuery
from .national import NationalQuery
from .posts import PostQuery

Query = merge_types("Query", (ElectionQuery, NationalQuery, PostQuery, EventQuery))

schema = strawberry.Schema(query=Query, extensions=[DjangoOptimizerExtension])
