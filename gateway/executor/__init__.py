"""The compiled executor: graphql-core's answer without its per-field cost.

graphql-core spends 2-3 µs on every field it executes (resolve info, path, argument check,
awaitable checks, completion dispatch), and most of it decides nothing for our answers, whose
objects are built in one pass (``schema.base.build``). This package runs a validated operation
as graphql-core 3.3 would, with the same data, errors (messages, paths, locations, order) and
agency calls (same DataLoader batches, same order), at a fraction of that cost;
``tests/gateway/executor/`` sends each request through both and compares. The execute stage
(``gateway/execute.py``) calls :meth:`CompiledExecutor.run`; when it answers None, graphql-core
runs the operation instead.

Modules, in the order a request meets them:

- ``cache.py``: :class:`CompiledExecutor`, the entry point: the compile cache and ``run``.
- ``compile.py``: :func:`screen` and :class:`Compiler`: an operation → a ``CompiledOperation``;
  :class:`Fallback` for what is left to graphql-core.
- ``program.py``: what it compiles to: the opcodes and ``Compiled*`` objects, shared helpers.
- ``pure.py``: :func:`compile_completer` writes one function for an object type whose selection
  is *pure* (below).
- ``run.py``: :class:`Execution`, one run of a compiled operation.

**Compiling.** The first time an operation (``Operation.cache_key``: query hash, operation
name, caller) is run, :func:`screen` looks for what the compiler leaves to graphql-core
(mutations, subscriptions, introspection other than ``__typename``, directives other than
``@include`` / ``@skip``, fragment variables; the compiler itself adds abstract types,
``is_type_of``, fields without a catalog resource or resolver) and raises :class:`Fallback`
with the reason, which the cache keeps: that operation always falls back. Otherwise it returns
the variables ``@include`` / ``@skip`` read, and the operation is compiled once per set of their
values (at most ``MAX_VARIANTS``). :class:`Compiler` expands fragments, inline fragments and
directives with graphql-core's own ``collect_fields``, merges aliases, and makes per object type
a ``CompiledObject`` (its ``CompiledField`` per response key, and its *program*, one
``Instruction`` per field), per field its kind, its literal arguments coerced once, and a
``CompiledType`` per place of its type (non-null and list wrappers, leaf, sub-selection).

**Opcodes** (``program.py``, plain int constants; the comment on each says more):

- ``FIELD_*``, how the full path gets a field's value: ``FIELD_TYPENAME`` (the type's name),
  ``FIELD_ATTRIBUTE`` (getattr on the built object: Strawberry's basic field), ``FIELD_RESOLVER``
  (root fields and links: the schema's resolver, with a real ``GraphQLResolveInfo``).
- ``OP_*``, what an object's program does with a field: ``OP_TYPENAME``; ``OP_LEAF``, read the
  leaf from the object's ``__dict__`` and keep it if its leaf check passes; ``OP_PURE_LIST``,
  read an embedded list and complete its items with their ``Completer``; ``OP_FULL_PATH``.
- ``TYPE_*``, how a value of a type is completed: ``TYPE_NON_NULL``, ``TYPE_LIST``,
  ``TYPE_LEAF``, ``TYPE_OBJECT`` (graphql-core's ``complete_value`` dispatch).
- ``KEEP_*``, a leaf's check: when its serializer would return the value itself, so the value
  is kept without the call: ``KEEP_EXACT_TYPE`` (String, ID, Boolean, identifier scalars),
  ``KEEP_INT32``, ``KEEP_FINITE_FLOAT``; ``KEEP_NEVER`` (0) where the serializer is always called.
- ``STEP_*``, the steps of a pure selection (``STEP_TYPENAME``, ``STEP_LEAF``,
  ``STEP_OBJECT_LIST``), which ``pure.py`` turns into straight-line code.

A selection is *pure* when each field is ``__typename``, a leaf with a ``KEEP_*`` check read from
``__dict__``, or an embedded list of objects whose selection is pure itself: most of a large
answer. Its ``Completer`` returns the object's dict in one call with no response paths.

**Running** (``run.py``). :class:`Execution` walks the program of each object: the fast opcodes
take a value as it is, and anything unusual on the way (an attribute the builder withheld or
missing, a null for a non-null field, a value of another type, a leaf to serialize, something
awaitable) goes to the *full path*, a line-by-line mirror of graphql-core's ``Executor`` whose
methods carry graphql-core's names (``_execute_field``, ``_complete_value``, ...). The fast
opcodes and the ``Completer`` functions only ever copy values: they give up (None) before any
side effect, and the full path then does what graphql-core does. Sibling fields and list items
that are awaitable are gathered with ``gather_with_cancel`` exactly where graphql-core gathers
them, so batches and the order of agency calls and of errors are the same.

**Errors and nulls.** An exception raised while resolving or completing a field becomes a
``GraphQLError`` located at the field's nodes and response path (``located_error``). If the
field is nullable, its value is null and the error is recorded; if it is non-null
(``TYPE_NON_NULL``, where a null is itself the error "Cannot return null for non-nullable
field"), the error is raised to the enclosing field, which handles it the same way: null
propagates to the nearest nullable ancestor, a non-null list item's to its list. At the root,
the data is null. As in graphql-core an error
is recorded once per path: none under a path already nulled by an error. When an error bubbles
up, the siblings still awaiting are settled in the background rather than awaited. The
execution drops its resolve-info helpers when done (they would make the answer cyclic garbage).
"""

from gateway.executor.cache import CompiledExecutor
from gateway.executor.compile import Fallback

__all__ = ["CompiledExecutor", "Fallback"]
