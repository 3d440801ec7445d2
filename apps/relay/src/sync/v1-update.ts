import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

export type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>;
export type Struct = DecodedUpdate['structs'][number];
export type DeleteSet = DecodedUpdate['ds'];

/** Whether `struct` directly follows `previous` in the same client's clocks. */
export function follows(previous: Struct, struct: Struct): boolean {
  return struct.id.client === previous.id.client && struct.id.clock === previous.id.clock + previous.length;
}

/**
 * The structs cut into one block per client, or undefined if a client's are not one contiguous
 * run. Yjs reads one block of structs per client (a later block of the same client replaces the
 * earlier), so only such an update can be written again equivalently.
 */
export function clientBlocks(structs: readonly Struct[]): Struct[][] | undefined {
  const blocks: Struct[][] = [];
  const seen = new Set<number>();
  let block: Struct[] | undefined;
  for (const struct of structs) {
    const previous = block?.[block.length - 1];
    if (block !== undefined && previous !== undefined && follows(previous, struct)) {
      block.push(struct);
      continue;
    }
    if (seen.has(struct.id.client)) return undefined;
    seen.add(struct.id.client);
    block = [struct];
    blocks.push(block);
  }
  return blocks;
}

/**
 * Writes decoded structs and a delete set as a Yjs v1 update (what Yjs's own encoder writes).
 * Each block is one client's structs, contiguous in clock order; no delete set writes an empty one.
 */
export function writeV1Update(blocks: readonly (readonly Struct[])[], ds: DeleteSet | undefined): Uint8Array {
  const encoder = new Y.UpdateEncoderV1();
  encoding.writeVarUint(encoder.restEncoder, blocks.length);
  for (const block of blocks) {
    const first = block[0] as Struct;
    encoding.writeVarUint(encoder.restEncoder, block.length);
    encoder.writeClient(first.id.client);
    encoding.writeVarUint(encoder.restEncoder, first.id.clock);
    for (const struct of block) struct.write(encoder, 0);
  }
  const deletes = ds?.clients ?? new Map<number, never[]>();
  encoding.writeVarUint(encoder.restEncoder, deletes.size);
  for (const [client, ranges] of deletes) {
    encoder.resetDsCurVal();
    encoding.writeVarUint(encoder.restEncoder, client);
    encoding.writeVarUint(encoder.restEncoder, ranges.length);
    for (const { clock, len } of ranges) {
      encoder.writeDsClock(clock);
      encoder.writeDsLen(len);
    }
  }
  return encoder.toUint8Array();
}
