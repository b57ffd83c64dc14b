/**
 * JSON codec for NATS messages: size limit first (cheap), then parse, then schema. Every edge that reads a
 * message goes through `decode`, so malformed or oversized input always becomes a BadRequestError/TooLargeError
 * and never an exception from deep inside a handler.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { BadRequestError, TooLargeError, errorFromBody } from './errors.js';
import { MAX_CONTROL_BYTES } from './messages.js';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checker<T extends TSchema>(schema: T): TypeCheck<T> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c as TypeCheck<T>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Validates an already-parsed value; throws BadRequestError naming the first offending path. */
export function validate<T extends TSchema>(schema: T, value: unknown, what = 'message'): Static<T> {
  const c = checker(schema);
  if (!c.Check(value)) {
    const first = c.Errors(value).First();
    const where = first ? `${first.path || '/'}: ${first.message}` : 'does not match schema';
    throw new BadRequestError(`invalid ${what}: ${where}`);
  }
  return value as Static<T>;
}

/** Size check first (cheap), then UTF-8 JSON parse; both failures become typed errors. */
function parseLimited(data: Uint8Array, max: number, what: string): unknown {
  if (data.byteLength > max) throw new TooLargeError(`${what} of ${data.byteLength} bytes exceeds ${max}`);
  try {
    return JSON.parse(decoder.decode(data));
  } catch (cause) {
    throw new BadRequestError(`${what} is not valid UTF-8 JSON`, { cause });
  }
}

export function decode<T extends TSchema>(
  schema: T,
  data: Uint8Array,
  opts: { maxBytes?: number; what?: string } = {},
): Static<T> {
  const what = opts.what ?? 'message';
  return validate(schema, parseLimited(data, opts.maxBytes ?? MAX_CONTROL_BYTES, what), what);
}

/**
 * Decodes a reply that may be an error body: error replies become their typed error class and are thrown.
 */
export function decodeReply<T extends TSchema>(
  schema: T,
  data: Uint8Array,
  opts: { maxBytes?: number; what?: string } = {},
): Static<T> {
  const what = opts.what ?? 'reply';
  const value = parseLimited(data, opts.maxBytes ?? MAX_CONTROL_BYTES, what);
  if (value && typeof value === 'object' && 'error' in value) throw errorFromBody(value);
  return validate(schema, value, what);
}
