/**
 * Where the CLI finds the system: flags first, then environment variables, then the file `serve` writes
 * (`.switchyard/local.json` in the working directory), then defaults. This lets `switchyard serve` in one
 * terminal and `switchyard get <id>` in another work with no flags at all.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface LocalConfig {
  nats: string;
  gateway: string;
  store: string;
  grantSecret?: string;
  adminToken?: string;
  /** operator keys of the local deployment (0700): only operator tools (`ingest`) read them, never peers */
  authDir?: string;
  /** API key for gateways that require one to mint peer credentials */
  apiKey?: string;
}

/** The resolved configuration, with whether NATS was named (otherwise peers use the URL the gateway gives). */
export interface ResolvedConfig extends LocalConfig {
  natsExplicit: boolean;
}

export const localConfigPath = (cwd = process.cwd()) => join(cwd, '.switchyard', 'local.json');

export function readLocalConfig(cwd = process.cwd()): Partial<LocalConfig> {
  try {
    return JSON.parse(readFileSync(localConfigPath(cwd), 'utf8')) as Partial<LocalConfig>;
  } catch {
    return {};
  }
}

export function writeLocalConfig(cfg: LocalConfig, cwd = process.cwd()): string {
  const p = localConfigPath(cwd);
  mkdirSync(join(cwd, '.switchyard'), { recursive: true });
  writeFileSync(p, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  return p;
}

export function resolveConfig(flags: { nats?: string; gateway?: string; store?: string; 'auth-dir'?: string }, cwd = process.cwd()): ResolvedConfig {
  const file = readLocalConfig(cwd);
  const env = process.env;
  const named = flags.nats ?? env.SWITCHYARD_NATS ?? file.nats;
  const cfg: ResolvedConfig = {
    natsExplicit: named !== undefined,
    nats: named ?? 'nats://127.0.0.1:4222',
    gateway: flags.gateway ?? env.SWITCHYARD_GATEWAY ?? file.gateway ?? 'http://127.0.0.1:8080',
    store: resolve(flags.store ?? env.SWITCHYARD_STORE ?? file.store ?? join(cwd, '.switchyard', 'store')),
  };
  const secret = env.SWITCHYARD_GRANT_SECRET ?? file.grantSecret;
  if (secret) cfg.grantSecret = secret;
  const admin = env.SWITCHYARD_ADMIN_TOKEN ?? file.adminToken;
  if (admin) cfg.adminToken = admin;
  const authDir = flags['auth-dir'] ?? env.SWITCHYARD_AUTH_DIR ?? file.authDir;
  if (authDir) cfg.authDir = resolve(authDir);
  const apiKey = env.SWITCHYARD_API_KEY ?? file.apiKey;
  if (apiKey) cfg.apiKey = apiKey;
  return cfg;
}
