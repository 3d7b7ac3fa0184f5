"""The root schema: one module per domain, merged here."""

import logging

import strawberry
from django.core.exceptions import ValidationError
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ValidationCache
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.tools import merge_types
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from . import fast_fields
from .elections import ElectionQuery
from .events import EventQuery
from .limits import DocumentLimits, TimeLimit
from .national import NationalQuery
from .posts import PostQuery
from .rehearsal import RehearsalQuery, rehearsal_extension
from .sharing import SharedEventExecutor
from .subscriptions import Subscription

logger = logging.getLogger("schema")

Query = merge_types("Query", (ElectionQuery, NationalQuery, PostQuery, EventQuery, RehearsalQuery))


def should_mask_error(error: GraphQLError) -> bool:
    """Hide unexpected exceptions (a bug's message or internals) behind a generic message.

    Errors raised on purpose (``GraphQLError``, validation) and request errors
    (no original exception) are shown as they are.
    """
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError | ValidationError)


class ElectionSchema(strawberry.Schema):
    async def execute(self, *args, allowed_operation_types=None, **kwargs):
        """One result per request (HTTP): subscriptions are served over WebSocket only.

        Strawberry allows them over HTTP for its multipart protocol, which this API does
        not offer: executed as a query, a subscription's stream would be a null field.
        """
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES) - {
            OperationType.SUBSCRIPTION
        }
        return await super().execute(*args, allowed_operation_types=allowed, **kwargs)

    async def _prepare_operation_async(self, context, extensions_runner):
        """A document refused by ``schema.limits`` is a request error over every transport.

        The limits raise from the parsing and validation hooks, which Strawberry does not
        catch there: over WebSocket the refusal would end the operation with a logged
        traceback instead of an ``error`` message.
        """
        try:
            return await super()._prepare_operation_async(context, extensions_runner)
        except GraphQLError as error:
            context.pre_execution_errors = [error]
            return PreExecutionError(data=None, errors=[error])

    def process_errors(self, errors, execution_context=None) -> None:
        """Log the errors that are bugs, with their traceback; a client's bad request is not news.

        Strawberry logs every error, a syntax error or a refused document included, at
        ERROR with any traceback: that would bury real failures under hostile clients' noise.
        """
        for error in errors:
            if should_mask_error(error):
                logger.error("unexpected error: %s", error, exc_info=error.original_error)
            else:
                logger.debug("request error: %s", error.message)


schema = ElectionSchema(
    query=Query,
    subscription=Subscription,
    execution_context_class=SharedEventExecutor,
    extensions=[
        # Parse within bounds (tokens, depth, aliases, fields, cost: schema/limits.py) or refuse,
        # before validation; validation rules stay the same tuple, so its cache hits.
        DocumentLimits,
        lambda: ValidationCache(maxsize=256),
        # GRAPHQL_TIMEOUT, checked before each object's fields (SharedEventExecutor): it holds for work in
        # the event loop too.
        TimeLimit,
        # No DjangoOptimizerExtension: every loader prefetches by hand (schema/elections.py) and no
        # resolver returns a queryset, so it never optimised anything, while its resolve hook wrapped
        # every field (8 % of a council page's time, 10 % of the small query's, measured in-process).
        rehearsal_extension,
        lambda: MaskErrors(should_mask_error=should_mask_error, error_message="Unexpected server error."),
    ],
)
# The plain fields (an attribute, or a function of the parent alone) resolved without Strawberry's
# per-field machinery: most of a page's fields, and once most of its time (schema/fast_fields.py).
fast_fields.install(schema, pure=("Party",))  # shared rows: each completed once per operation
