// The GraphQL-over-HTTP audit of the graphql-http package, against a running server.
// Fails when any MUST or SHOULD audit does not pass; prints every result that is not ok.
// With GRAPHQL_API_KEY set, every request carries it in X-API-Key (for PUBLIC_API=keys).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: [GRAPHQL_API_KEY=...] node audit.mjs http://127.0.0.1:8000/graphql');
  process.exit(2);
}
const key = process.env.GRAPHQL_API_KEY;
const fetchFn = key
  ? (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('X-API-Key', key);
      return fetch(input, { ...init, headers });
    }
  : fetch;
const results = await auditServer({ url, fetchFn });
const counts = {};
let failed = 0;
for (const r of results) {
  const level = r.name.split(' ')[0]; // MUST, SHOULD or MAY
  counts[`${level} ${r.status}`] = (counts[`${level} ${r.status}`] || 0) + 1;
  if (r.status !== 'ok') {
    console.log(`${r.status.toUpperCase()} ${r.id} ${r.name}: ${r.reason}`);
    if (level !== 'MAY') failed++;
  }
}
console.log(`graphql-http audit of ${url}${key ? ' (with an API key)' : ''}:`, JSON.stringify(counts));
process.exit(failed ? 1 : 0);
