// Runs graphql-http's GraphQL-over-HTTP audits against AUDIT_URL and prints the results as JSON.
// AUDIT_HEADERS (a JSON object) is added to every request the audits make: the gateway needs a
// bearer token and X-Purpose on each one. Used by tests/http/test_graphql_http_audit.py.
import { auditServer } from 'graphql-http';

const url = process.env.AUDIT_URL;
const extra = JSON.parse(process.env.AUDIT_HEADERS ?? '{}');
if (!url) {
  console.error('AUDIT_URL is not set');
  process.exit(2);
}

async function fetchWithHeaders(input, init = {}) {
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithHeaders });
const report = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.responseStatus = result.response.status;
    entry.responseBody = await result.response.text();
  }
  report.push(entry);
}
console.log(JSON.stringify(report));
