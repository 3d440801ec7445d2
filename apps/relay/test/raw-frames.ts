/** What a raw TCP client writes to open a WebSocket on `path`, as a browser would. */
export function upgradeRequest(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: relay\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
}

/** A masked (key 0) client frame header announcing `payloadBytes`. */
export function frameHeader(opcode: number, payloadBytes: number): Buffer {
  const header = Buffer.alloc(14);
  header[0] = 0x80 | opcode;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(payloadBytes), 2);
  return header;
}
