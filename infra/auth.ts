/**
 * NATS decentralized auth material: an operator, a system account and the application account, each an nkey
 * with a signed JWT, plus one service user per role and the account's signing key (the key the gateway mints
 * peer credentials with). Created on first use in a data directory (mode 0700, key file mode 0600) and reused
 * after: keys are never in the repository and nobody makes them by hand.
 *
 * Layout of `<dir>/keys.json`: seeds of operator, accounts, signing key and service users, and the JWTs. Whoever
 * can read it is the operator of this deployment; docs/SECURITY.md says how to split it in production (the
 * gateway needs only the signing seed, a worker only its own service credential).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeAccount, encodeOperator, encodeUser } from '@nats-io/jwt';
import { createAccount, createOperator, createUser, fromSeed } from '@nats-io/nkeys';
import type { NatsCredentials } from '../lib/nats.js';
import { ServiceRoles, servicePermissions, type ServiceRole } from '../protocol/permissions.js';

export type { NatsCredentials };

export interface AuthMaterial {
  dir: string;
  operatorJwt: string;
  systemAccount: { publicKey: string; jwt: string };
  account: { publicKey: string; jwt: string };
  /** seed of the application account's signing key: it mints peer credentials (gateway) */
  signingSeed: string;
  services: Record<ServiceRole, { jwt: string; seed: string }>;
  /** the operator's and accounts' own seeds, so an operator can re-sign accounts later */
  seeds?: { operator: string; system: string; account: string };
}

const KEY_FILE = 'keys.json';
const te = new TextEncoder();
const td = new TextDecoder();

/**
 * Limits of the application account. An account JWT without limits allows no connection at all, and one without
 * JetStream limits has no JetStream (KV and streams fail); peers are bounded by their own user JWTs instead.
 */
const APP_LIMITS = {
  subs: -1, conn: -1, leaf: -1, imports: -1, exports: -1, data: -1, payload: -1, wildcards: true,
  mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1,
} as const;

async function create(dir: string): Promise<AuthMaterial> {
  const operator = createOperator();
  const sys = createAccount();
  const app = createAccount();
  const signing = createAccount();
  const operatorJwt = await encodeOperator('switchyard', operator, { system_account: sys.getPublicKey() });
  const sysJwt = await encodeAccount('SYS', sys, {}, { signer: operator });
  const appJwt = await encodeAccount('switchyard', app, { limits: APP_LIMITS as never, signing_keys: [signing.getPublicKey()] },
    { signer: operator });
  const services = {} as AuthMaterial['services'];
  for (const role of Object.values(ServiceRoles)) {
    const u = createUser();
    // Services serve peers, run JetStream and answer on peers' inboxes; only ingest may feed the catalog.
    services[role] = { jwt: await encodeUser(`svc-${role}`, u, app, servicePermissions(role) as never), seed: td.decode(u.getSeed()) };
  }
  return {
    dir,
    operatorJwt,
    systemAccount: { publicKey: sys.getPublicKey(), jwt: sysJwt },
    account: { publicKey: app.getPublicKey(), jwt: appJwt },
    signingSeed: td.decode(signing.getSeed()),
    services,
    seeds: { operator: td.decode(operator.getSeed()), system: td.decode(sys.getSeed()), account: td.decode(app.getSeed()) },
  };
}

function isMaterial(v: unknown): v is AuthMaterial {
  const m = v as Partial<AuthMaterial> | null;
  return !!m && typeof m.operatorJwt === 'string' && typeof m.signingSeed === 'string' && !!m.account?.jwt &&
    !!m.systemAccount?.jwt && Object.values(ServiceRoles).every((r) => typeof m.services?.[r]?.seed === 'string');
}

/** Loads the auth material in `dir`, creating it (and the directory, mode 0700) on first use. */
export async function ensureAuth(dir: string): Promise<AuthMaterial> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = join(dir, KEY_FILE);
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!isMaterial(parsed)) throw new Error(`${file} is not Switchyard auth material; move it away to start afresh`);
    chmodSync(file, 0o600);
    return { ...parsed, dir };
  }
  const m = await create(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
  return m;
}

/** Reads existing auth material without creating any (commands that must join a running deployment). */
export function loadAuth(dir: string): AuthMaterial | null {
  try {
    const parsed = JSON.parse(readFileSync(join(dir, KEY_FILE), 'utf8')) as unknown;
    return isMaterial(parsed) ? { ...parsed, dir } : null;
  } catch {
    return null;
  }
}

/** The credential of one service role. */
export function serviceCredentials(auth: AuthMaterial, role: ServiceRole): NatsCredentials {
  const s = auth.services[role];
  return { jwt: s.jwt, seed: te.encode(s.seed), name: `svc-${role}` };
}

/** The operator-mode lines of a nats-server configuration (memory resolver, both accounts preloaded). */
export function serverAuthConfig(auth: AuthMaterial): string {
  return [
    `operator: ${auth.operatorJwt}`,
    `system_account: ${auth.systemAccount.publicKey}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${auth.systemAccount.publicKey}: ${auth.systemAccount.jwt}`,
    `  ${auth.account.publicKey}: ${auth.account.jwt}`,
    '}',
  ].join('\n');
}

/** The signing key pair (gateway), checked to be the one the account JWT lists. */
export function signingKeyPair(auth: AuthMaterial) {
  return fromSeed(te.encode(auth.signingSeed));
}
