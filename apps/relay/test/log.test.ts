import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createJsonLogger, streamLineWriter } from '../src/log.js';

/** A stream whose reader has gone: every write fails with EPIPE, reported as an 'error' event. */
function closedPipe(): Writable & { attempts: number } {
  const stream = new Writable({
    write(_chunk, _encoding, callback) {
      stream.attempts += 1;
      callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  }) as Writable & { attempts: number };
  stream.attempts = 0;
  return stream;
}

describe('log output', () => {
  it('writes one JSON object per line', () => {
    const lines: string[] = [];
    const logger = createJsonLogger('info', (line) => lines.push(line), () => 0);
    logger.debug('hidden');
    logger.warn('list.quarantined', { listId: 'abc', error: new Error('bad checksum') });
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
      { time: '1970-01-01T00:00:00.000Z', level: 'warn', event: 'list.quarantined', listId: 'abc', error: { name: 'Error', message: 'bad checksum' } },
    ]);
  });

  it('drops lines once its stream has failed, instead of throwing or retrying', async () => {
    const stream = closedPipe();
    const logger = createJsonLogger('info', streamLineWriter(stream));
    logger.info('first');
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.attempts).toBe(1);
    for (let i = 0; i < 10; i++) logger.error('after the pipe closed');
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.attempts).toBe(1);
  });

  it('writes at most its rate of lines per event, and says how many it left out', () => {
    const lines: Array<Record<string, unknown>> = [];
    let clock = 0;
    const logger = createJsonLogger('info', (line) => lines.push(JSON.parse(line) as Record<string, unknown>), () => clock, { linesPerSecond: 10, burst: 5 });
    // A flood of refusals: 1,000 in one instant, while another event still gets through.
    for (let i = 0; i < 1000; i++) logger.warn('connection.refused', { connection: i });
    logger.error('list.write_failed');
    expect(lines.filter((line) => line['event'] === 'connection.refused')).toHaveLength(5);
    expect(lines.filter((line) => line['event'] === 'list.write_failed')).toHaveLength(1);
    clock += 1000;
    logger.warn('connection.refused', { connection: 1000 });
    expect(lines.at(-1)).toMatchObject({ event: 'connection.refused', connection: 1000, linesDropped: 995 });
    logger.warn('connection.refused', { connection: 1001 });
    expect(lines.at(-1)).not.toHaveProperty('linesDropped');
  });
});
