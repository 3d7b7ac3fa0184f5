"""Resolve the plain fields of the schema without Strawberry's per-field machinery.

A council page resolves about 3,600 fields, nearly all of them an attribute
of a loaded row or a small function of one (a candidate's votes, a ballot's
label). For each, Strawberry's resolver builds an ``Info``, converts the
(absent) arguments, looks up the resolver's reserved parameters, chains the
(absent) field extensions and calls the function through three more
frames; strawberry-django adds its own ``get_result`` (a descriptor lookup per
call for an attribute). That was most of a page's time, far more than the
fields themselves.

``install`` replaces, in the built GraphQL schema, the resolver of each field
that needs none of it with a direct call of the same function:

- a field with no resolver of a plain Strawberry type: the attribute;
- a resolver that takes only the parent (``self`` and/or ``root``), no
  ``info``, no arguments, no field extensions, synchronous: called with the
  parent, exactly as Strawberry would call it (strawberry-django's only when
  marked ``prefetched``, i.e. safe to run in the event loop, as
  strawberry-django itself would then run it);
- a strawberry-django field with no resolver over a model column or a
  many-to-one relation: the loaded value, read as strawberry-django reads it
  (``__dict__``, the relation's cache).

Anything else keeps Strawberry's resolver, and so does any call the fast one
cannot answer as strawberry-django would (a value not loaded, a queryset
returned): it hands the call over to the original resolver.

``FastCompletion`` (a mixin of the schema's execution context) then completes
those fields in place, scalars, enums, objects and lists of objects: no
``ResolveInfo``, ``Path`` or completion frames of graphql-core for them.

What a field answers is unchanged, errors included; only the frames between
graphql-core and the function are gone. ``tests/test_demo_answers.py`` pins
every answer of the demo; ``tests/test_fast_fields.py`` compares answers and
errors with Strawberry's and graphql-core's own paths.
"""

from __future__ import annotations

from collections.abc import Callable
from math import isfinite
from typing import Any

from django.db.models import Manager, QuerySet
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.db.models.query_utils import DeferredAttribute
from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    GraphQLFloat,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
)
from graphql.pyutils import Path
from strawberry.types.field import StrawberryField
from strawberry_django.fields.field import StrawberryDjangoField

_DEFINITION = "strawberry-definition"


class NeedsResolver(Exception):
    """A direct resolver called without ``info`` cannot answer: the original resolver must."""


def install(schema, pure: tuple[str, ...] = ()) -> dict[str, int]:
    """Give each plain field of ``schema`` (a Strawberry schema) a direct resolver.

    ``pure`` names object types whose every field is a function of the object alone (shared,
    immutable rows such as parties): if each of their fields gets a direct resolver, an object
    of theirs met again in one operation with the same selection reuses its completed answer.
    Returns how many fields of each kind were replaced (for tests and profiles).
    """
    counts = {"attribute": 0, "resolver": 0, "django-attribute": 0, "django-resolver": 0}
    converter = schema.schema_converter
    for type_ in schema._schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        model = _model_of(type_)
        for graphql_field in type_.fields.values():
            field = (graphql_field.extensions or {}).get(_DEFINITION)
            original = graphql_field.resolve
            if not isinstance(field, StrawberryField) or original is None:
                continue
            if field.extensions or field.arguments or graphql_field.args:
                continue
            if converter._get_field_exception_handlers(field):
                continue
            kind, fast = _fast_resolver(field, model, original)
            if fast is None:
                continue
            fast._is_default = getattr(original, "_is_default", False)  # as Strawberry marks it
            fast.original = original
            graphql_field.resolve = fast
            leaf = graphql_field.type
            non_null = isinstance(leaf, GraphQLNonNull)
            if non_null:
                leaf = leaf.of_type
            if isinstance(leaf, GraphQLLeafType):
                # Completed by FastCompletion below, with no ResolveInfo, Path or completion frames.
                graphql_field.fast_leaf = (fast, _coerce(leaf), non_null)
            elif (shape := _object_shape(graphql_field.type)) is not None:
                graphql_field.fast_object = (fast, *shape)
            counts[kind] += 1
    for name in pure:
        type_ = schema._schema.type_map[name]
        type_.fast_pure = all(
            getattr(f, "fast_leaf", None) is not None or getattr(f, "fast_object", None) is not None
            for f in type_.fields.values()
        )
    return counts


def _coerce(leaf) -> Callable:
    """The leaf type's output coercion; for Int and Float a quicker test of the usual value first."""
    coerce = leaf.coerce_output_value
    if leaf is GraphQLInt:

        def coerce_int(value: Any) -> Any:
            if type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT:
                return value
            return coerce(value)

        return coerce_int
    if leaf is GraphQLFloat:

        def coerce_float(value: Any) -> Any:
            if type(value) is float and isfinite(value):
                return value
            return coerce(value)

        return coerce_float
    return coerce


def _object_shape(type_) -> tuple | None:
    """(object type, is a list, item type) for ``T``, ``T!``, ``[T]``, ``[T!]`` and ``[T!]!`` of an
    object type with no ``is_type_of`` check; None otherwise."""
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    is_list = isinstance(inner, GraphQLList)
    item = inner.of_type if is_list else inner
    named = item.of_type if isinstance(item, GraphQLNonNull) else item
    if not isinstance(named, GraphQLObjectType) or named.is_type_of is not None:
        return None
    if is_list and isinstance(named, GraphQLList):
        return None
    return named, is_list, item


def _model_of(type_: GraphQLObjectType):
    definition = (type_.extensions or {}).get(_DEFINITION)
    origin = getattr(definition, "origin", None)
    django = getattr(origin, "__strawberry_django_definition__", None)
    return getattr(django, "model", None)


def _fast_resolver(field: StrawberryField, model, original) -> tuple[str, Callable | None]:
    resolver = field.base_resolver
    is_django = isinstance(field, StrawberryDjangoField)
    if resolver is None:
        if not is_django:
            return "attribute", _attribute(field.python_name)
        if model is None:
            return "django-attribute", None
        return "django-attribute", _django_attribute(model, field.django_name or field.python_name, original)
    if resolver.is_async or resolver.info_parameter is not None or resolver.arguments:
        return "resolver", None
    function = resolver.wrapped_func
    if not callable(function):
        return "resolver", None
    if is_django:
        if not getattr(function, "is_async_safe", False):
            return "django-resolver", None  # strawberry-django runs it in a thread under async
        return "django-resolver", _call(function, resolver, original, check_queryset=True)
    return "resolver", _call(function, resolver, original, check_queryset=False)


def _attribute(name: str) -> Callable:
    def resolve(source: Any, info: Any) -> Any:
        return getattr(source, name)

    return resolve


def _django_attribute(model, name: str, original) -> Callable | None:
    attr = getattr(model, name, None)
    if isinstance(attr, ForwardManyToOneDescriptor):
        cache_name = attr.field.cache_name

        def resolve(source: Any, info: Any) -> Any:
            try:
                return source._state.fields_cache[cache_name]
            except (KeyError, AttributeError):  # not loaded: strawberry-django reads it
                if info is None:
                    raise NeedsResolver from None
                return original(source, info)

        return resolve
    if type(attr) is DeferredAttribute:  # a plain column (a FileField's descriptor wraps its value)
        attname = attr.field.attname

        def resolve(source: Any, info: Any) -> Any:
            try:
                return source.__dict__[attname]
            except (KeyError, AttributeError):  # deferred: strawberry-django reads it
                if info is None:
                    raise NeedsResolver from None
                return original(source, info)

        return resolve
    return None


def _call(function: Callable, resolver, original, *, check_queryset: bool) -> Callable | None:
    # How Strawberry's get_arguments passes the parent: first positional for `self`,
    # by keyword for the `root` and `Parent` parameters (here positionally where the
    # keyword parameter is the next positional one: the same binding, a cheaper call).
    positional = resolver.self_parameter is not None
    keywords = {p.name for p in (resolver.root_parameter, resolver.parent_parameter) if p is not None}
    if len(keywords) > 1:
        return None
    parameters = list(resolver.signature.parameters.values())
    if len(parameters) != positional + len(keywords):
        return None  # a parameter Strawberry fills some other way
    if not keywords:
        if positional:

            def resolve(source: Any, info: Any) -> Any:
                return function(source)

        else:

            def resolve(source: Any, info: Any) -> Any:
                return function()

    else:
        (key,) = keywords
        last = parameters[-1]
        if last.name == key and last.kind is last.POSITIONAL_OR_KEYWORD:
            if positional:

                def resolve(source: Any, info: Any) -> Any:
                    return function(source, source)

            else:

                def resolve(source: Any, info: Any) -> Any:
                    return function(source)

        elif positional:

            def resolve(source: Any, info: Any) -> Any:
                return function(source, **{key: source})

        else:

            def resolve(source: Any, info: Any) -> Any:
                return function(**{key: source})

    if not check_queryset:
        return resolve
    call = resolve

    def resolve_django(source: Any, info: Any) -> Any:
        result = call(source, info)
        if isinstance(result, Manager | QuerySet):  # strawberry-django evaluates it: let it
            if info is None:
                raise NeedsResolver
            return original(source, info)
        return result

    return resolve_django


class FastCompletion:
    """Execution-context mixin: the fields with a direct resolver, completed in place.

    For every field graphql-core builds a ``ResolveInfo`` and a ``Path``, then completes its
    value through four to eight calls (non-null, list, item, object, sub-fields). For the
    fields ``install`` marks (a direct resolver, which needs neither), this resolves them
    and completes their values itself:

    - a scalar or enum: coerced as ``complete_leaf_value`` would;
    - an object, or a list of objects (of a type with no ``is_type_of`` check): each
      object's fields executed at once, with its path, errors located and propagated to
      the nearest nullable field or item as graphql-core's ``execute_field`` and
      ``complete_list_item_value`` do (``handle_field_error``), and what they await
      awaited, each with its own error handling.

    Any field it cannot complete cleanly before anything is reported (its resolver raises,
    a null or a refused value, a value not loaded, an object not in a list where one is
    expected) goes to graphql-core's own ``execute_field``, which runs it again and reports
    it as it always does (these resolvers only read loaded rows: running one twice changes
    nothing), as does every other field. The answer keeps the selection's order. The schema
    has no ``@defer`` or ``@stream`` directive; a deferred fragment would go to graphql-core.
    """

    # Called before each object's fields are executed (the schema's deadline check); none by default.
    before_fields: Callable[[], None] | None = None

    def execute_fields(self, parent_type, source_value, path, grouped_field_set, position_context):
        if self.before_fields is not None:
            self.before_fields()
        plans = self.__dict__.get("_fast_plans")
        cached = plans.get(id(grouped_field_set)) if plans is not None else None
        if cached is not None and cached[0] is grouped_field_set:
            plan, fast_first = cached[1], cached[2]
        else:
            plan, fast_first = self._fast_plan(parent_type, grouped_field_set)
        done: dict[str, Any] = {}
        rest: dict = {}
        pending: list[str] = []
        fell_back = False
        try:
            for response_name, field_details_list, fast, shape in plan:
                if fast is not None:
                    resolve, coerce, non_null = fast
                    try:
                        value = resolve(source_value, None)
                        if value is None or value is Undefined:
                            if not non_null:
                                done[response_name] = None
                                continue
                        elif not isinstance(value, Exception):
                            value = coerce(value)
                            if value is not None and value is not Undefined:
                                done[response_name] = value
                                continue
                    except Exception:  # noqa: S110  graphql-core's own path reports it
                        pass
                    fell_back = True
                elif shape is not None:
                    completed = self._fast_object(
                        parent_type,
                        source_value,
                        path,
                        response_name,
                        field_details_list,
                        shape,
                        position_context,
                    )
                    if completed is not _FALL_BACK:
                        done[response_name] = completed
                        if (
                            completed is not None
                            and type(completed) not in (dict, list)
                            and self.is_awaitable(completed)
                        ):
                            pending.append(response_name)
                        continue
                    fell_back = True
                rest[response_name] = field_details_list
        except Exception:
            if pending:  # an error bubbling up: what was started still settles, as graphql-core does
                self.settle_in_background([done[name] for name in pending])
            raise
        if not rest:
            if pending:
                return _merged_later(grouped_field_set, done, pending, None)
            return done
        results = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if not done:
            return results
        if pending or (type(results) is not dict and self.is_awaitable(results)):
            return _merged_later(grouped_field_set, done, pending, results)
        if fast_first and not fell_back:  # done's fields come first in the selection
            done.update(results)
            return done
        return _merged(grouped_field_set, done, results)

    def _fast_object(self, parent_type, source, path, response_name, details, shape, position_context):
        """An object (or list of objects) field with a direct resolver, completed as graphql-core's
        ``execute_field`` and ``complete_value`` would, minus their frames; ``_FALL_BACK`` (before
        anything is reported) when it is not the plain case."""
        resolve, object_type, is_list, item_type, return_type = shape
        try:
            value = resolve(source, None)
        except Exception:
            return _FALL_BACK  # graphql-core's own path runs it again and reports it
        if value is None or value is Undefined:
            # A null for a nullable field is its answer; for a non-null one graphql-core reports it.
            return _FALL_BACK if isinstance(return_type, GraphQLNonNull) else None
        if isinstance(value, Exception):
            return _FALL_BACK
        if is_list and not isinstance(value, list | tuple):
            return _FALL_BACK
        sub_fields, defer_usages, _ = self.collect_subfields(object_type, details)
        if defer_usages:
            return _FALL_BACK
        field_path = Path(path, response_name, parent_type.name)
        try:
            if not is_list:
                if getattr(object_type, "fast_pure", False):
                    completed = self._pure_object(
                        object_type, value, field_path, sub_fields, position_context
                    )
                else:
                    completed = self.execute_fields(
                        object_type, value, field_path, sub_fields, position_context
                    )
                if type(completed) is not dict and self.is_awaitable(completed):
                    return self._awaited(completed, return_type, details, field_path)
                return completed
            items: list = []
            awaited = False
            item_non_null = item_type is not object_type
            for index, item in enumerate(value):
                item_path = field_path.add_key(index, None)
                try:
                    if item is None:
                        if item_non_null:
                            raise TypeError(
                                f"Cannot return null for non-nullable field {parent_type.name}."
                                f"{details[0].node.name.value}."
                            )
                        items.append(None)
                        continue
                    completed = self.execute_fields(
                        object_type, item, item_path, sub_fields, position_context
                    )
                    if type(completed) is not dict and self.is_awaitable(completed):
                        completed = self._awaited(completed, item_type, details, item_path)
                        awaited = True
                    items.append(completed)
                except Exception as raw_error:
                    try:
                        self.handle_field_error(raw_error, item_type, details, item_path)
                    except Exception:
                        if awaited:
                            self.settle_in_background([i for i in items if self.is_awaitable(i)])
                        raise
                    items.append(None)
            if awaited:
                return self._awaited(
                    _awaited_items(items, self.is_awaitable), return_type, details, field_path
                )
            return items
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, field_path)
            return None

    def _pure_object(self, object_type, value, path, sub_fields, position_context):
        """A pure type's object (``install``): its answer to this selection, computed once per
        operation. Its fields are direct and synchronous; an answer that reported an error is not
        kept (each place reports its own)."""
        memo = self.__dict__.get("_fast_pure")
        if memo is None:
            memo = self.__dict__["_fast_pure"] = {}
        key = (id(value), id(sub_fields))
        entry = memo.get(key)
        if entry is not None and entry[0] is value and entry[1] is sub_fields:
            return entry[2]
        errors = len(self.collected_errors.errors)
        completed = self.execute_fields(object_type, value, path, sub_fields, position_context)
        if type(completed) is dict and len(self.collected_errors.errors) == errors:
            memo[key] = (value, sub_fields, completed)  # both kept: their ids cannot be reused meanwhile
        return completed  # an awaitable (not expected of a pure type) is awaited by the caller, not kept

    async def _awaited(self, completed, return_type, details, path):
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, details, path)
            return None

    def _fast_plan(self, parent_type, grouped_field_set) -> tuple[tuple, bool]:
        """Each selected field with its direct leaf or object completion (or None), once per selection set: graphql-core
        collects a selection set once per operation, so every item of a list shares it."""
        plans = self.__dict__.setdefault("_fast_plans", {})
        cached = plans.get(id(grouped_field_set))
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1], cached[2]
        fields = parent_type.fields
        plan = []
        for name, details in grouped_field_set.items():
            field = fields.get(details[0].node.name.value)
            leaf = getattr(field, "fast_leaf", None)
            shape = getattr(field, "fast_object", None)
            if shape is not None:
                shape = (*shape, field.type)
            plan.append((name, details, leaf, shape))
        plan = tuple(plan)
        kinds = [fast is not None or shape is not None for _, _, fast, shape in plan]
        fast_first = kinds == sorted(kinds, reverse=True)
        # The selection set is kept with its plan, so its id cannot be reused while the plan is.
        plans[id(grouped_field_set)] = (grouped_field_set, plan, fast_first)
        return plan, fast_first


_FALL_BACK = object()


def _merged(grouped_field_set, done: dict, results: dict) -> dict:
    out = {}
    for name in grouped_field_set:
        if name in done:
            out[name] = done[name]
        elif name in results:
            out[name] = results[name]
    return out


async def _merged_later(grouped_field_set, done: dict, pending: list[str], results) -> dict:
    for name in pending:
        done[name] = await done[name]
    if results is None:
        return done
    return _merged(grouped_field_set, done, await results)


async def _awaited_items(items: list, is_awaitable) -> list:
    out = []
    try:
        for item in items:
            out.append(await item if is_awaitable(item) else item)
    except Exception:
        for item in items[len(out) + 1 :]:  # a non-null item's error ends the list: close the rest
            if is_awaitable(item) and hasattr(item, "close"):
                item.close()
        raise
    return out
