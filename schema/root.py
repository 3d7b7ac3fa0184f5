"""The root schema: one module per domain, merged here."""

import strawberry
from django.core.exceptions import ValidationError
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, QueryDepthLimiter
from strawberry.tools import merge_types
from strawberry_django.optimizer import DjangoOptimizerExtension

from .elections import ElectionQuery
from .events import EventQuery
from .national import NationalQuery
from .posts import PostQuery
from .rehearsal import RehearsalQuery, rehearsal_extension
from .sharing import SharedEventExecutor
from .subscriptions import Subscription

Query = merge_types("Query", (ElectionQuery, NationalQuery, PostQuery, EventQuery, RehearsalQuery))


def should_mask_error(error: GraphQLError) -> bool:
    """Hide unexpected exceptions (a bug's message or internals) behind a generic message.

    Errors raised on purpose (``GraphQLError``, validation) and request errors
    (no original exception) are shown as they are.
    """
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | ValidationError)


schema = strawberry.Schema(
    query=Query,
    subscription=Subscription,
    execution_context_class=SharedEventExecutor,
    extensions=[
        DjangoOptimizerExtension,
        rehearsal_extension,
        # Deep enough for every page's query (docs/queries.md), not for abuse.
        lambda: QueryDepthLimiter(max_depth=12),
        lambda: MaskErrors(should_mask_error=should_mask_error, error_message="Unexpected server error."),
    ],
)
