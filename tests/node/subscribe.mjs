// Subscribe with the npm graphql-ws client and print each event as a JSON line.
// usage: node subscribe.mjs ws://127.0.0.1:8000/graphql AFTER COUNT
// Exits 0 after COUNT events, 1 on an error or after 30 s.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, after, count] = process.argv.slice(2);
const client = createClient({ url, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
const query = `subscription($after: String) {
  events(after: $after) {
    id kind
    ballot { id status candidacies { name votes elected } election { id seatsDeclared control { called headline } } }
  }
}`;
let seen = 0;
const timer = setTimeout(() => { console.error('timed out'); process.exit(1); }, 30_000);
client.subscribe(
  { query, variables: { after } },
  {
    next: (message) => {
      console.log(JSON.stringify(message));
      seen += 1;
      if (seen >= Number(count)) { clearTimeout(timer); client.dispose(); process.exit(0); }
    },
    error: (error) => { console.error(JSON.stringify(error)); process.exit(1); },
    complete: () => { console.error('completed early'); process.exit(1); },
  },
);
console.error('subscribing');
