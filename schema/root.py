"""The root schema: one module per domain, merged here."""

import strawberry
from strawberry.tools import merge_types
from strawberry_django.optimizer import DjangoOptimizerExtension

from .elections import ElectionQuery

Query = merge_types("Query", (ElectionQuery,))

schema = strawberry.Schema(query=Query, extensions=[DjangoOptimizerExtension])
