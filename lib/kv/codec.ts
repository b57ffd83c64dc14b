/**
 * One codec per bucket, used by its writers and its readers alike: a stored value is size-checked, parsed as
 * JSON and checked against the bucket's TypeBox schema before anyone sees it, and a value is checked against the
 * same schema before it is written. Decoding yields a typed value or a typed error (KvEntryError); nothing here
 * or in the callers casts parsed JSON to a type.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { KvEntryError, KvValueError } from './errors.js';

/**
 * How one bucket's values look. `T` is the in-memory form, which may differ from the stored JSON (a bucket with
 * several key families decodes into a tagged union, actors/origin/records.ts).
 */
export interface KvCodec<T> {
  /** the bucket, for messages */
  readonly bucket: string;
  /** the largest stored value accepted, checked before parsing */
  readonly maxBytes: number;
  /**
   * Parsed JSON stored under `key` → the typed value; null for keys this bucket's readers ignore (they are
   * someone else's). Throws KvEntryError when the value does not match its schema.
   */
  read(key: string, json: unknown): T | null;
  /** the JSON form stored for `value` under `key`; throws KvValueError when it does not match the schema */
  write(key: string, value: T): unknown;
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

/** A compiled schema check with a readable first error; one compiled checker per schema, shared. */
export function checkerOf<S extends TSchema>(schema: S): (value: unknown) => value is Static<S> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  const check = c;
  return (value: unknown): value is Static<S> => check.Check(value);
}

/** The first schema violation of `value`, for error messages ('' when there is none). */
export function firstProblem(schema: TSchema, value: unknown): string {
  const c = compiled.get(schema) ?? TypeCompiler.Compile(schema);
  const first = c.Errors(value).First();
  return first ? `${first.path || '/'}: ${first.message}` : '';
}

/** Checks `json` against `schema` for reading `key`: the typed value, or KvEntryError. */
export function readAs<S extends TSchema>(bucket: string, key: string, schema: S, json: unknown): Static<S> {
  if (checkerOf(schema)(json)) return json;
  throw new KvEntryError(bucket, key, firstProblem(schema, json) || 'does not match its schema');
}

/** Checks `value` against `schema` before writing it under `key`. */
export function writeAs<S extends TSchema>(bucket: string, key: string, schema: S, value: unknown): Static<S> {
  if (checkerOf(schema)(value)) return value;
  throw new KvValueError(bucket, key, firstProblem(schema, value) || 'does not match its schema');
}

/**
 * The codec of a bucket whose values all share one schema; `keyOf` (optional) says which key a value belongs
 * under, so an entry filed under another key (copied, forged) is refused too.
 */
export function schemaCodec<S extends TSchema>(
  bucket: string,
  schema: S,
  opts: { maxBytes: number; keyOf?: (value: Static<S>) => string },
): KvCodec<Static<S>> {
  const keyed = (key: string, value: Static<S>, fail: (why: string) => Error): Static<S> => {
    const want = opts.keyOf?.(value);
    if (want !== undefined && want !== key) throw fail(`filed under ${key}, belongs under ${want}`);
    return value;
  };
  return {
    bucket,
    maxBytes: opts.maxBytes,
    read: (key, json) => keyed(key, readAs(bucket, key, schema, json), (why) => new KvEntryError(bucket, key, why)),
    write: (key, value) => keyed(key, writeAs(bucket, key, schema, value), (why) => new KvValueError(bucket, key, why)),
  };
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** Stored bytes → typed value (null: a key of no interest). Size check, then JSON parse, then the schema. */
export function decodeEntry<T>(codec: KvCodec<T>, key: string, bytes: Uint8Array): T | null {
  if (bytes.byteLength > codec.maxBytes) {
    throw new KvEntryError(codec.bucket, key, `${bytes.byteLength} bytes exceed the limit of ${codec.maxBytes}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new KvEntryError(codec.bucket, key, 'not UTF-8 JSON', { cause });
  }
  return codec.read(key, json);
}

/** Typed value → the bytes to store, checked against the bucket's schema and size limit first. */
export function encodeEntry<T>(codec: KvCodec<T>, key: string, value: T): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(codec.write(key, value)));
  if (bytes.byteLength > codec.maxBytes) {
    throw new KvValueError(codec.bucket, key, `${bytes.byteLength} bytes exceed the limit of ${codec.maxBytes}`);
  }
  return bytes;
}
