/**
 * Typed failures of the KV layer (lib/kv/). They stay inside a process: a handler that lets one escape answers
 * `internal` (protocol/errors.ts `toSwitchyardError`), so none of these codes is part of the wire protocol.
 *
 * JetStream reports a lost compare-and-set as an API error with code 10071 ("wrong last sequence"; 10164 when
 * the server cannot tell the sequence). @nats-io/jetstream throws it as `JetStreamApiError` with that code, so
 * the checks below look at the class and the code, never at the message text.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/** The codes of this module's errors. */
export const KvErrorCodes = {
  /** a compare-and-set lost to another writer: the key's revision was not the one expected */
  conflict: 'kv_conflict',
  /** a retry policy ran out of attempts while other writers kept winning */
  contention: 'kv_contention',
  /** a stored value failed its bucket's size, JSON or schema check */
  badEntry: 'kv_bad_entry',
  /** a value this process was about to write failed its bucket's schema (a bug in the writer) */
  badValue: 'kv_bad_value',
} as const;
export type KvErrorCode = (typeof KvErrorCodes)[keyof typeof KvErrorCodes];

/** Base class: every KV failure has a stable `code` and, where there is one, the underlying `cause`. */
export class KvError extends Error {
  readonly code: KvErrorCode;
  constructor(code: KvErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Someone else wrote `key` first; re-read it and decide again. */
export class KvConflictError extends KvError {
  readonly key: string;
  constructor(bucket: string, key: string, options?: { cause?: unknown }) {
    super(KvErrorCodes.conflict, `compare-and-set of ${bucket}/${key} lost to another writer`, options);
    this.key = key;
  }
}

/** Every attempt of a retry policy lost its compare-and-set. */
export class KvContentionError extends KvError {
  readonly key: string;
  constructor(bucket: string, key: string, attempts: number) {
    super(KvErrorCodes.contention, `could not update ${bucket}/${key}: ${attempts} attempts lost to other writers`);
    this.key = key;
  }
}

/** A stored value that is not what its bucket's schema says (foreign, corrupt or from another version). */
export class KvEntryError extends KvError {
  readonly key: string;
  constructor(bucket: string, key: string, why: string, options?: { cause?: unknown }) {
    super(KvErrorCodes.badEntry, `bad entry ${bucket}/${key}: ${why}`, options);
    this.key = key;
  }
}

/** A value refused before writing: the writer built something its own bucket's schema rejects. */
export class KvValueError extends KvError {
  constructor(bucket: string, key: string, why: string, options?: { cause?: unknown }) {
    super(KvErrorCodes.badValue, `refusing to write ${bucket}/${key}: ${why}`, options);
  }
}

/** JetStream's "wrong last sequence": the expected revision was not the key's current one. */
export function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** JetStream's "stream not found": the bucket's stream does not exist (lost, deleted, never created). */
export function isStreamMissing(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

/** A lost compare-and-set, whether still raw from JetStream or already typed by this module. */
export function isCasConflict(err: unknown): boolean {
  return err instanceof KvConflictError || isWrongLastSequence(err);
}
