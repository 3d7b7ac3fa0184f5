"""Loading rows without the ORM's per-row and per-query costs: the loaders' fast path.

A page's ballots and candidacies are a few hundred rows read by a query of a
fixed shape. Building them through ``QuerySet.__iter__`` costs more than
reading them: the SQL is compiled on every request, and every row goes
through ``Model.from_db`` and ``Model.__init__``. Here the SQL of a shape is
compiled once per process and database (Django's own compiler, so the text and its
converters are exactly the ORM's), and rows become model instances by
filling their ``__dict__``, as ``from_db`` would leave it: fields not read
stay deferred, ``_state`` says loaded from this database. The instances are
ordinary models (properties, methods, deferred loading all work).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from django.db import connections, router
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.query import QuerySet

# Per database alias and vendor: shape key -> (sql, [(position, converters, expression)]). Not per
# connection wrapper: under ASGI every request's database work runs in a thread of its own, with
# a wrapper of its own, so a cache per wrapper would be compiled again on every request.
_compiled: dict[tuple[str, str], dict] = {}


def _shapes(connection) -> dict:
    """The compiled shapes of ``connection``'s database (the SQL text depends on its vendor only)."""
    key = (connection.alias, connection.vendor)
    cache = _compiled.get(key)
    if cache is None:
        cache = _compiled.setdefault(key, {})
    return cache


def _compile(queryset: QuerySet, params: Sequence) -> tuple[str, list] | None:
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, compiled_params = compiler.as_sql()
    if tuple(compiled_params) != tuple(params):
        return None  # the shape's parameters are not just these: never reuse its SQL
    fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
    converters = [
        (pos, convs, expression) for pos, (convs, expression) in compiler.get_converters(fields).items()
    ]
    return sql, converters


def value_rows(
    model: type[Model], key: tuple | None, build: Callable[[], QuerySet], params: Sequence
) -> list:
    """The rows of ``build()`` (a ``values_list`` queryset of ``model`` whose only parameters are ``params``).

    ``key`` names the shape: the same key must always build the same query,
    up to the values of ``params`` (their number belongs in the key). The
    query is built and compiled the first time a connection meets the key;
    afterwards its SQL runs with these ``params`` and the ORM's converters.
    With ``key`` None the query is built, compiled and run as the ORM would.
    """
    if key is None:
        return list(build())
    connection = connections[router.db_for_read(model)]
    cache = _shapes(connection)
    entry = cache.get(key)
    if entry is None:
        queryset = build()
        entry = _compile(queryset, params)
        if entry is None:
            return [tuple(row) for row in queryset]
        cache[key] = entry
    return _run(connection, entry, params)


def _run(connection, compiled: tuple[str, list], params: Sequence) -> list:
    sql, converters = compiled
    with connection.cursor() as cursor:
        cursor.execute(sql, tuple(params))
        rows = cursor.fetchall()
    if not converters:
        return rows
    out = []
    for row in rows:
        row = list(row)
        for pos, convs, expression in converters:
            value = row[pos]
            for converter in convs:
                value = converter(value, expression, connection)
            row[pos] = value
        out.append(row)
    return out


def instances(model: type[Model], names: Sequence[str], rows: Iterable[Sequence], db: str) -> list[Model]:
    """Model instances of these rows (``names``: the attnames of their columns, in order)."""
    new = object.__new__
    out = []
    for row in rows:
        obj = new(model)
        obj.__dict__.update(zip(names, row, strict=True))
        state = obj._state = ModelState()
        state.adding = False
        state.db = db
        out.append(obj)
    return out


def instance(model: type[Model], names: Sequence[str], row: Sequence, db: str) -> Model:
    obj = object.__new__(model)
    obj.__dict__.update(zip(names, row, strict=True))
    state = obj._state = ModelState()
    state.adding = False
    state.db = db
    return obj


def attnames(model: type[Model]) -> list[str]:
    """Every concrete column of ``model``, as ``from_db`` fills them."""
    return [f.attname for f in model._meta.concrete_fields]


def _relation(model: type[Model], name: str):
    """(related model, cache name on the instance, cache name on the related row or None) or None if unsupported."""
    field = model._meta.get_field(name)
    if field.concrete and field.many_to_one:  # a forward foreign key
        return field.related_model, field.cache_name, None
    if not field.concrete and field.one_to_one:  # a reverse one-to-one
        return field.related_model, field.cache_name, field.field.cache_name
    return None


def select_related_instances(
    queryset: QuerySet, key: tuple | None = None, params: Sequence = ()
) -> list[Model]:
    """``list(queryset)`` for a queryset with one level of ``select_related`` (forward foreign keys,
    reverse one-to-ones) and deferred fields, read as values and built as ``from_db`` would.

    With ``key`` (the shape of its filters, as for ``value_rows``; its relations and deferred
    fields are added to it) and ``params`` (the filters' values as the database takes them),
    its SQL is compiled once per process and database. Anything else (``only``, annotations, nested
    relations) is evaluated by the ORM.
    """
    query = queryset.query
    model = queryset.model
    related = query.select_related
    deferred, defer = query.deferred_loading
    if (
        not isinstance(related, dict)
        or not defer
        or any(related.values())
        or query.annotations
        or query.extra
        or queryset._prefetch_related_lookups
        or queryset._fields is not None
    ):
        return list(queryset)
    connection = connections[queryset.db]
    if key is not None:
        key = (*key, tuple(related), deferred)
        cache = _shapes(connection)
        entry = cache.get(key)
    else:
        entry = None
    if entry is None:
        plan = _plan(model, related, deferred)
        if plan is None:
            return list(queryset)
        values = queryset.values_list(*plan[2])
        compiled = _compile(values, params) if key is not None else None
        if compiled is None:
            rows = list(values)
        else:
            cache[key] = (plan, compiled)
            rows = _run(connection, compiled, params)
    else:
        plan, compiled = entry
        rows = _run(connection, compiled, params)
    names, parts, _ = plan
    db = queryset.db
    out = []
    count = len(names)
    for row in rows:
        obj = instance(model, names, row[:count], db)
        cache = obj._state.fields_cache = {}
        for rel_model, rel_names, start, pk_at, cache_name, remote_cache_name in parts:
            if row[pk_at] is None:
                cache[cache_name] = None
                continue
            rel = instance(rel_model, rel_names, row[start : start + len(rel_names)], db)
            if remote_cache_name is not None:
                rel._state.fields_cache = {remote_cache_name: obj}
            cache[cache_name] = rel
        out.append(obj)
    return out


def _plan(model: type[Model], related: dict, deferred: frozenset) -> tuple | None:
    """The columns to read: the model's, then each relation's (deferred ones left out), and how to split them."""
    names = [n for n in attnames(model) if n not in deferred]
    columns = list(names)
    parts = []
    for name in related:
        relation = _relation(model, name)
        if relation is None:
            return None
        rel_model, cache_name, remote_cache_name = relation
        rel_names = [n for n in attnames(rel_model) if f"{name}__{n}" not in deferred]
        start = len(columns)
        columns.extend(f"{name}__{n}" for n in rel_names)
        pk_at = start + rel_names.index(rel_model._meta.pk.attname)
        parts.append((rel_model, rel_names, start, pk_at, cache_name, remote_cache_name))
    return names, parts, columns
