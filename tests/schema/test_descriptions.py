"""Every type, field and argument a front-end developer sees in the workbench (GraphiQL) says
what it is: a non-empty description in the unified schema, the root types included."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from schema.unified import build_schema


def undescribed(schema: GraphQLSchema) -> dict[str, list[str]]:
    """Type name -> what of it has no description ("" for the type itself)."""
    missing: dict[str, list[str]] = {}
    for name, kind in schema.type_map.items():
        if name.startswith("__") or not isinstance(
            kind,
            GraphQLObjectType | GraphQLInputObjectType | GraphQLEnumType | GraphQLInterfaceType,
        ):
            continue
        lacking = [] if (kind.description or "").strip() else [""]
        if not isinstance(kind, GraphQLEnumType):
            for field_name, field in kind.fields.items():
                if not (field.description or "").strip():
                    lacking.append(field_name)
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not (arg.description or "").strip():
                        lacking.append(f"{field_name}({arg_name})")
        if lacking:
            missing[name] = lacking
    return missing


def test_every_type_field_and_argument_is_described() -> None:
    assert undescribed(build_schema().graphql) == {}


def test_the_root_types_are_described() -> None:
    schema = build_schema().graphql
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    assert all(root is not None and (root.description or "").strip() for root in roots)


def test_the_check_finds_what_is_missing() -> None:
    from graphql import build_schema as from_sdl

    bare = from_sdl('''
        """A root."""
        type Query {
            """Described."""
            a(x: Int): Int
            b: Thing
        }
        type Thing { c: Int }
    ''')
    assert undescribed(bare) == {"Query": ["a(x)", "b"], "Thing": ["", "c"]}
