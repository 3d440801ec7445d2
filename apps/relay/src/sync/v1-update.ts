import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

export type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>;
export type Struct = DecodedUpdate['structs'][number];
export type DeleteSet = DecodedUpdate['ds'];

/**
 * Whether an update holds formatting (Y.Text marks), and so must reach a document whole. Y.Text
 * deletes formatting that looks redundant after each remote transaction: a part of an update
 * ending between a bold start and the text it makes bold left the text plain, on a phone applying
 * sync answer parts ([AP3], [AP4]) and on the relay itself applying slices of an incoming update
 * or a stored list (nested text, and the XmlText rich-text editors store marks in); the cleanup
 * was stored and sent on, and the list lost the bold for everyone ([S1]). Shopping lists hold no
 * formatted text; a list that does goes whole.
 */
export function holdsFormatting(structs: readonly Struct[]): boolean {
  return structs.some((struct) => struct instanceof Y.Item && struct.content instanceof Y.ContentFormat);
}

/** Whether `struct` directly follows `previous` in the same client's clocks. */
export function follows(previous: Struct, struct: Struct): boolean {
  return struct.id.client === previous.id.client && struct.id.clock === previous.id.clock + previous.length;
}

/**
 * The structs cut into the blocks Yjs integrates: one per client, contiguous in its clocks. An
 * update may list a client in several blocks, and Yjs reads only the last of them (each replaces
 * the one before, unread), so only that one is kept: written again, the update integrates the same.
 * Without this, a crafted update with a client listed twice could not be rewritten, and so would
 * be applied as sent, in one go. A later block that directly follows the earlier one's clocks is
 * taken as its continuation (Yjs would hold it back for the clocks the earlier one holds): such an
 * update then integrates more than Yjs alone would, all of it the sender's own structs, and
 * consistently, as the relay stores and forwards what it integrated.
 */
export function clientBlocks(structs: readonly Struct[]): Struct[][] {
  const blocks = new Map<number, Struct[]>();
  let block: Struct[] | undefined;
  for (const struct of structs) {
    const previous = block?.[block.length - 1];
    if (block !== undefined && previous !== undefined && follows(previous, struct)) {
      block.push(struct);
      continue;
    }
    block = [struct];
    // Deleted first, so the client's place in the order is where its last block stands.
    blocks.delete(struct.id.client);
    blocks.set(struct.id.client, block);
  }
  return [...blocks.values()];
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
