/**
 * A minimal structured logger passed to every actor as a component (no module-level singleton). Lines go to
 * stderr so a CLI's stdout stays clean for its result; level comes from SWITCHYARD_LOG (debug|info|warn|error|
 * silent), default warn, so tests and the CLI are quiet unless asked.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(name: string): Logger;
  /** whether lines of `level` are written (work done only for a line, like a link's transitions, can be skipped) */
  enabled?(level: Exclude<LogLevel, 'silent'>): boolean;
}

/** Node's process when there is one: the logger also runs in the browser peer (which passes its own writer). */
const nodeProcess = (globalThis as {
  process?: { env: Record<string, string | undefined>; stderr: { write(s: string): unknown } };
}).process;

export function createLogger(
  name = 'switchyard',
  level: LogLevel = (nodeProcess?.env.SWITCHYARD_LOG as LogLevel | undefined) ?? 'warn',
  write: (line: string) => void = (line) => (nodeProcess ? nodeProcess.stderr.write(line + '\n') : console.warn(line)),
): Logger {
  const min = ORDER[level] ?? ORDER.warn;
  const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const extra = fields ? ' ' + safeJson(fields) : '';
    write(`${new Date().toISOString()} ${lvl.toUpperCase()} [${name}] ${msg}${extra}`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (sub) => createLogger(`${name}:${sub}`, level, write),
    enabled: (lvl) => ORDER[lvl] >= min,
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (x instanceof Error ? { name: x.name, message: x.message } : x));
  } catch {
    return '[unserialisable]';
  }
}

export const silentLogger: Logger = createLogger('silent', 'silent');
