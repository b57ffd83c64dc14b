/**
 * What the media element itself says, for a page's status: when playback does not move, this tells a stuck
 * decoder (data buffered at the playhead, `readyState` low) from a gap (nothing buffered at the playhead) from a
 * player that never appended anything (no ranges at all).
 */

/** A snapshot of an HTMLMediaElement's playback state. */
export interface MediaState {
  /** HAVE_NOTHING (0) … HAVE_ENOUGH_DATA (4) */
  readyState: number;
  /** NETWORK_EMPTY (0) … NETWORK_NO_SOURCE (3) */
  networkState: number;
  /** buffered ranges in seconds, rounded to ms */
  buffered: Array<[number, number]>;
  /** MediaError code, or null */
  error: number | null;
  seeking: boolean;
}

const ms = (t: number) => Math.round(t * 1000) / 1000;

export function mediaState(media: HTMLMediaElement): MediaState {
  const buffered: Array<[number, number]> = [];
  for (let i = 0; i < media.buffered.length; i++) buffered.push([ms(media.buffered.start(i)), ms(media.buffered.end(i))]);
  return { readyState: media.readyState, networkState: media.networkState, buffered,
    error: media.error?.code ?? null, seeking: media.seeking };
}

/** The last `max` entries of a log, oldest first (a player's non-fatal errors, for a page's status). */
export interface Recent {
  add(entry: string): void;
  list(): string[];
}

export function recent(max: number): Recent {
  const entries: string[] = [];
  return {
    add(entry) {
      if (entries.push(entry) > max) entries.shift();
    },
    list: () => [...entries],
  };
}
