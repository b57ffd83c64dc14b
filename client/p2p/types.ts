/** Shared shapes of the client's P2P parts. */

/** The verified chunks this peer can serve. */
export interface ChunkSource {
  has(index: number): boolean;
  /** the chunk's bytes; only called for chunks `has` reports */
  read(index: number): Promise<Uint8Array>;
  /** current bitfield */
  have(): boolean[];
}

/** What the uploader and the request table need of one open link. */
export interface LinkIO {
  readonly peerId: string;
  sendRequest(index: number): boolean;
  sendCancel(index: number): boolean;
  sendPiece(index: number, offset: number, chunkLength: number, data: Uint8Array): boolean;
  sendReject(index: number, reason: number): boolean;
  sendChoke(): boolean;
  sendUnchoke(): boolean;
  sendHave(index: number): boolean;
  bufferedAmount(): number;
}
