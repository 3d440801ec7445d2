/**
 * Yjs v1 updates written struct by struct from plain descriptions, whatever they say: for tests
 * of structure no Yjs writes (cycles, references forward, lengths of 0).
 */
import * as encoding from 'lib0/encoding';

export type Ref = { readonly client: number; readonly clock: number };
export type Parent = { readonly root: string } | Ref;

export interface CraftedStruct {
  readonly kind: 'any' | 'deleted' | 'string' | 'map' | 'array' | 'gc' | 'skip';
  readonly length: number;
  readonly origin: Ref | null;
  readonly rightOrigin: Ref | null;
  readonly parent: Parent;
  readonly key: string | null;
  /** Content written as given (its content ref, then its body) instead of what `kind` writes. */
  readonly content?: { readonly ref: number; readonly write: (e: encoding.Encoder) => void };
}

export interface CraftedBlock {
  readonly client: number;
  readonly clock: number;
  readonly structs: readonly CraftedStruct[];
}

export interface CraftedUpdate {
  readonly blocks: readonly CraftedBlock[];
  readonly deletions: ReadonlyArray<{ readonly client: number; readonly ranges: ReadonlyArray<readonly [number, number]> }>;
}

const HAS_ORIGIN = 0x80;
const HAS_RIGHT_ORIGIN = 0x40;
const HAS_PARENT_SUB = 0x20;
const CONTENT_REF = { deleted: 1, string: 4, map: 7, array: 7, any: 8 } as const;
const TYPE_REF = { array: 0, map: 1 } as const;

/** The crafted update in Yjs's v1 encoding, written as UpdateEncoderV1 would, whatever it says. */
export function encodeCrafted(update: CraftedUpdate): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, update.blocks.length);
  for (const block of update.blocks) {
    encoding.writeVarUint(e, block.structs.length);
    encoding.writeVarUint(e, block.client);
    encoding.writeVarUint(e, block.clock);
    for (const s of block.structs) writeStruct(e, s);
  }
  encoding.writeVarUint(e, update.deletions.length);
  for (const { client: deleter, ranges } of update.deletions) {
    encoding.writeVarUint(e, deleter);
    encoding.writeVarUint(e, ranges.length);
    for (const [from, length] of ranges) {
      encoding.writeVarUint(e, from);
      encoding.writeVarUint(e, length);
    }
  }
  return encoding.toUint8Array(e);
}

function writeStruct(e: encoding.Encoder, s: CraftedStruct): void {
  if (s.kind === 'gc' || s.kind === 'skip') {
    encoding.writeUint8(e, s.kind === 'gc' ? 0 : 10);
    encoding.writeVarUint(e, s.length);
    return;
  }
  const hasParentInfo = s.origin === null && s.rightOrigin === null;
  const info =
    (s.content?.ref ?? CONTENT_REF[s.kind]) | (s.origin === null ? 0 : HAS_ORIGIN) | (s.rightOrigin === null ? 0 : HAS_RIGHT_ORIGIN) | (hasParentInfo && s.key !== null ? HAS_PARENT_SUB : 0);
  encoding.writeUint8(e, info);
  for (const id of [s.origin, s.rightOrigin]) {
    if (id === null) continue;
    encoding.writeVarUint(e, id.client);
    encoding.writeVarUint(e, id.clock);
  }
  if (hasParentInfo) {
    if ('root' in s.parent) {
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, s.parent.root);
    } else {
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, s.parent.client);
      encoding.writeVarUint(e, s.parent.clock);
    }
    if (s.key !== null) encoding.writeVarString(e, s.key);
  }
  if (s.content !== undefined) {
    s.content.write(e);
    return;
  }
  switch (s.kind) {
    case 'deleted':
      encoding.writeVarUint(e, s.length);
      break;
    case 'string':
      encoding.writeVarString(e, 'xyz'.slice(0, s.length));
      break;
    case 'map':
    case 'array':
      encoding.writeVarUint(e, TYPE_REF[s.kind]);
      break;
    case 'any':
      encoding.writeVarUint(e, s.length);
      for (let i = 0; i < s.length; i++) encoding.writeAny(e, i);
      break;
  }
}
