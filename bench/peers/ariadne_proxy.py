"""The ariadne-graphql-proxy peer, as its README sets it up: one remote schema, proxied.

    bench/peers/.venv/bin/python bench/peers/ariadne_proxy.py PORT SUBGRAPH_URL

Runs in bench/peers/.venv (ariadne-graphql-proxy needs graphql-core < 3.3, JointGate 3.3), served
by uvicorn with uvloop and httptools as JointGate is. Stock settings: the library opens an
httpx client per upstream request (``ProxySchema.fetch_data``).
"""

from __future__ import annotations

import sys

import uvicorn
from ariadne.asgi import GraphQL  # type: ignore[import-not-found]  # bench/peers/.venv only
from ariadne_graphql_proxy import ProxySchema, get_context_value  # type: ignore[import-not-found]


def main() -> int:
    port, subgraph = int(sys.argv[1]), sys.argv[2]
    proxy = ProxySchema()
    proxy.add_remote_schema(f"{subgraph}/graphql")
    app = GraphQL(
        proxy.get_final_schema(),
        context_value=get_context_value,
        root_value=proxy.root_resolver,
    )
    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
        access_log=False, log_level="warning",
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
