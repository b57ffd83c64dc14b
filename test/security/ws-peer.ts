/**
 * Child program for the WebSocket test: Node 20 has a WebSocket client only behind `--experimental-websocket`,
 * which a test file cannot turn on for itself. Connects to nats-server's WebSocket listener (the browser peer's
 * transport) with the credential it is given, or anonymously, and prints one JSON line of what happened.
 * Usage: node --experimental-websocket ws-peer.js <wsUrl> [<jwt> <seed> <inboxPrefix> <subject to try>]
 */
import { jwtAuthenticator, wsconnect } from '@nats-io/nats-core';

async function main(): Promise<Record<string, unknown>> {
  const [wsUrl, jwt, seed, inboxPrefix, forbidden] = process.argv.slice(2) as [string, string?, string?, string?, string?];
  let nc: Awaited<ReturnType<typeof wsconnect>>;
  try {
    nc = await wsconnect({
      servers: wsUrl, timeout: 5000,
      ...(jwt && seed ? { authenticator: jwtAuthenticator(jwt, new TextEncoder().encode(seed)), inboxPrefix } : {}),
    });
  } catch (e) {
    return { connected: false, error: (e as Error).message };
  }
  const out: Record<string, unknown> = { connected: true };
  try {
    const m = await nc.request('sy.catalog.list', new TextEncoder().encode('{}'), { timeout: 3000 });
    out.catalog = JSON.parse(new TextDecoder().decode(m.data)) as unknown;
  } catch (e) {
    out.catalogError = (e as Error).message;
  }
  if (forbidden) {
    const violation = new Promise<string>((resolve) => {
      void (async () => {
        for await (const s of nc.status()) {
          const err = (s as { error?: { name?: string; message?: string } }).error;
          if (s.type === 'error' && err?.name === 'PermissionViolationError') resolve(err.message ?? '');
        }
      })();
      setTimeout(() => resolve(''), 3000);
    });
    nc.publish(forbidden, new TextEncoder().encode('{}'));
    out.violation = await violation;
  }
  await nc.close();
  return out;
}

main().then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  },
  (e) => {
    process.stdout.write(JSON.stringify({ crashed: String(e) }) + '\n');
    process.exit(1);
  },
);
