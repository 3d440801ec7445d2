import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

type Decoded = ReturnType<typeof Y.decodeUpdate>;
type Struct = Decoded['structs'][number];

/**
 * GC structs (collected content, 2 bytes each on the wire) that directly follow another of the
 * same client: Yjs integrates each one on its own, so an 8 MiB update of one-clock GC structs
 * held the event loop about 1 s in `Y.applyUpdate` alone, for a document that ends up holding
 * one GC range. Past this many, the update is rewritten with each run of them as one struct,
 * which Yjs would make of them anyway. Honest updates hold a few (a store keeps the pieces of
 * items deleted one by one): they are passed on untouched.
 */
export const GC_RUN_REWRITE_MIN_JOINS = 1024;

/** Adjacent GC structs of one client that one struct could replace. */
export function gcRunJoins(structs: readonly Struct[]): number {
  let joins = 0;
  let previous: Struct | undefined;
  for (const struct of structs) {
    if (previous !== undefined && struct instanceof Y.GC && previous instanceof Y.GC && follows(previous, struct)) joins += 1;
    previous = struct;
  }
  return joins;
}

/**
 * The update written again with each run of adjacent GC structs as one, in Yjs's v1 format;
 * undefined when it cannot be written equivalently. Yjs reads one block of structs per client
 * (a later block of the same client replaces the earlier), so an update whose client's structs
 * are not one contiguous block is left as it is.
 */
export function withGcRunsJoined({ structs, ds }: Decoded): Uint8Array | undefined {
  const blocks = clientBlocks(structs);
  if (blocks === undefined) return undefined;
  const encoder = new Y.UpdateEncoderV1();
  encoding.writeVarUint(encoder.restEncoder, blocks.length);
  for (const block of blocks) {
    const joined = joinGcRuns(block);
    const first = joined[0] as Struct;
    encoding.writeVarUint(encoder.restEncoder, joined.length);
    encoder.writeClient(first.id.client);
    encoding.writeVarUint(encoder.restEncoder, first.id.clock);
    for (const struct of joined) struct.write(encoder, 0);
  }
  // The delete set as read, in Yjs's v1 form (what its own writeDeleteSet writes).
  encoding.writeVarUint(encoder.restEncoder, ds.clients.size);
  for (const [client, deletes] of ds.clients) {
    encoder.resetDsCurVal();
    encoding.writeVarUint(encoder.restEncoder, client);
    encoding.writeVarUint(encoder.restEncoder, deletes.length);
    for (const { clock, len } of deletes) {
      encoder.writeDsClock(clock);
      encoder.writeDsLen(len);
    }
  }
  return encoder.toUint8Array();
}

function follows(previous: Struct, struct: Struct): boolean {
  return struct.id.client === previous.id.client && struct.id.clock === previous.id.clock + previous.length;
}

/** The structs cut into one block per client, or undefined if a client's are not one contiguous run. */
function clientBlocks(structs: readonly Struct[]): Struct[][] | undefined {
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

function joinGcRuns(block: readonly Struct[]): Struct[] {
  const joined: Struct[] = [];
  let runStart: Y.GC | undefined;
  let runLength = 0;
  const endRun = (): void => {
    if (runStart === undefined) return;
    joined.push(runLength === runStart.length ? runStart : new Y.GC(runStart.id, runLength));
    runStart = undefined;
  };
  for (const struct of block) {
    if (struct instanceof Y.GC) {
      if (runStart === undefined) {
        runStart = struct;
        runLength = 0;
      }
      runLength += struct.length;
    } else {
      endRun();
      joined.push(struct);
    }
  }
  endRun();
  return joined;
}
