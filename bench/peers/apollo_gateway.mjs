// The Apollo Gateway peer: @apollo/gateway in @apollo/server's standalone HTTP server, the
// supergraph composed from the subgraph's own `_service { sdl }` (IntrospectAndCompose). Stock
// settings apart from quiet logs; NODE_ENV=production (set by bench/stack.py).
//
//     node bench/peers/apollo_gateway.mjs PORT SUBGRAPH_URL [WORKERS]
//
// WORKERS > 1: node:cluster forks that many workers sharing the port (the primary only
// supervises), as Node servers use all cores of a host.
import cluster from "node:cluster";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { ApolloGateway, IntrospectAndCompose } from "@apollo/gateway";

const [port, subgraph, workersArg] = process.argv.slice(2);
const workers = Number(workersArg || 1);
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => {
      for (const worker of Object.values(cluster.workers)) worker.kill("SIGTERM");
      process.exit(0);
    });
  }
} else {
  await serve();
}

async function serve() {
  const quiet = { debug() {}, info() {}, warn: console.warn, error: console.error };
  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({
      subgraphs: [{ name: "courts", url: `${subgraph}/graphql` }],
    }),
    logger: quiet,
  });
  const server = new ApolloServer({ gateway, logger: quiet });
  await startStandaloneServer(server, { listen: { host: "127.0.0.1", port: Number(port) } });
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => server.stop().then(() => process.exit(0)));
  }
}
