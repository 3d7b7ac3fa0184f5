"""An endpoint's selection: the fields of ``Event`` each delivery carries, as a subscription document.

The delivery process runs exactly the events subscription (``schema.subscriptions``)
with the endpoint's filter and cursor: the selection is set inside it, so a
webhook's payload is what a WebSocket or SSE subscriber with the same
selection receives, rendered by the same code (and shared with them per event).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from graphql import GraphQLError, OperationDefinitionNode, validate

TEMPLATE = (
    "subscription Webhook($after: String, $councils: [String!], $kinds: [EventKind!]) {{\n"
    "  events(after: $after, councils: $councils, kinds: $kinds) {selection}\n"
    "}}"
)
DEFAULT_SELECTION = "{ id kind occurredAt council { slug } ballot { id status } headline }"


def document(selection: str) -> str:
    """The subscription document that renders deliveries with ``selection``."""
    return TEMPLATE.format(selection=selection.strip())


def validate_selection(selection: str) -> str:
    """The selection, trimmed, if it is one valid, bounded selection set on ``Event``; else ValidationError.

    Checked as every document is (schema/limits.py bounds, then graphql-core's
    validation against the schema), inside the subscription it will run in.
    """
    from schema import schema
    from schema.limits import parse_bounded

    text = (selection or "").strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValidationError("The selection must be one selection set in braces, e.g. { id kind }.")
    try:
        parsed = parse_bounded(schema._schema, document(text))
    except GraphQLError as error:
        raise ValidationError(f"The selection does not parse: {error.message}") from error
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if len(parsed.definitions) != 1 or len(operations) != 1:
        raise ValidationError(
            "The selection must be one selection set in braces, with no fragment definitions."
        )
    errors = validate(schema._schema, parsed)
    if errors:
        raise ValidationError("The selection is not valid: " + " ".join(e.message for e in errors[:3]))
    return text
