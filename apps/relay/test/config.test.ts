import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromEnvironment, DEFAULT_LIMITS, defaultStaticDir, MAX_CONFIGURABLE_LIST_BYTES } from '../src/config.js';
import { MAX_RECORD_BYTES } from '../src/storage/record-framing.js';

const MiB = 1024 * 1024;

describe('configFromEnvironment', () => {
  it('refuses a PORT outside 0–65535 or not written in decimal', () => {
    for (const port of ['abc', '-1', '70000', '65536', '0x1f90', '1e3', '8080.5']) {
      expect(() => configFromEnvironment({ PORT: port }), port).toThrow(/PORT must be an integer from 0 to 65535/);
    }
    expect(configFromEnvironment({ PORT: '65535' }).port).toBe(65535);
    expect(configFromEnvironment({ PORT: '0' }).port).toBe(0);
  });
  it('takes an empty DATA_DIR or STATIC_DIR as unset, never as the working directory', () => {
    // `DATA_DIR=` (an unset variable in an env file, `docker run -e DATA_DIR=`) resolved to the
    // working directory: the relay's journal, lock and lists went into the repository root.
    for (const empty of ['', '  ']) {
      const config = configFromEnvironment({ DATA_DIR: empty, STATIC_DIR: empty });
      expect(config.dataDir).toBe(path.resolve('data'));
      expect(config.staticDir).toBe(path.resolve(defaultStaticDir()));
    }
    expect(configFromEnvironment({}).dataDir).toBe(path.resolve('data'));
    expect(configFromEnvironment({ DATA_DIR: '/srv/basket' }).dataDir).toBe('/srv/basket');
  });
  it('refuses limits that are negative or not numbers', () => {
    expect(() => configFromEnvironment({ MAX_CONNECTIONS: '-1' })).toThrow(/MAX_CONNECTIONS must be an integer ≥ 1/);
    expect(() => configFromEnvironment({ MAX_CONNECTIONS: 'lots' })).toThrow(/MAX_CONNECTIONS/);
  });
  it('refuses a delay longer than Node timers take (they would run every millisecond instead)', () => {
    const delays = ['SYNC_REQUEST_INTERVAL_MS', 'IDLE_UNLOAD_MS', 'PING_INTERVAL_MS', 'SHUTDOWN_COMPACT_MS', 'CHECKPOINT_INTERVAL_MS', 'DATA_DIR_LOCK_WAIT_MS'];
    for (const name of delays) {
      expect(() => configFromEnvironment({ [name]: '2147483648' }), name).toThrow(new RegExp(`${name} must be an integer from \\d+ to 2147483647`));
      expect(() => configFromEnvironment({ [name]: '2147483647' }), name).not.toThrow();
    }
    expect(configFromEnvironment({ PING_INTERVAL_MS: '2147483647' }).pingIntervalMs).toBe(2147483647);
  });
  it('refuses a LOG_LEVEL it does not know, instead of running at info', () => {
    expect(() => configFromEnvironment({ LOG_LEVEL: 'verbose' })).toThrow(/LOG_LEVEL must be one of debug, info, warn, error, got "verbose"/);
    expect(configFromEnvironment({ LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
    expect(configFromEnvironment({ LOG_LEVEL: ' debug ' }).logLevel).toBe('debug');
    expect(configFromEnvironment({}).logLevel).toBe('info');
  });
  it('lets one address store eight full-size lists (64 MiB) an hour by default, following MAX_LIST_BYTES', () => {
    expect(configFromEnvironment({}).maxStoredBytesPerIpPerHour).toBe(64 * MiB);
    expect(DEFAULT_LIMITS.maxStoredBytesPerIpPerHour).toBe(64 * MiB);
    expect(configFromEnvironment({ MAX_LIST_BYTES: String(2 * MiB) }).maxStoredBytesPerIpPerHour).toBe(16 * MiB);
    expect(configFromEnvironment({ MAX_STORED_BYTES_PER_IP_PER_HOUR: '5000000' }).maxStoredBytesPerIpPerHour).toBe(5_000_000);
    expect(() => configFromEnvironment({ MAX_STORED_BYTES_PER_IP_PER_HOUR: '100' })).toThrow(/MAX_STORED_BYTES_PER_IP_PER_HOUR must be an integer ≥ 1024/);
  });

  it('bounds bytes read and not yet handled per address (four of the largest frames ws reads) and in all', () => {
    const defaults = configFromEnvironment({});
    expect([defaults.maxIncomingBytesPerIp, defaults.maxIncomingBytesTotal]).toEqual([4 * 9 * MiB, 512 * MiB]);
    expect(DEFAULT_LIMITS.maxIncomingBytesPerIp).toBe(defaults.maxIncomingBytesPerIp);
    // Following MAX_MESSAGE_BYTES: one frame of the largest size ws reads must always fit.
    const small = configFromEnvironment({ MAX_MESSAGE_BYTES: String(MiB) });
    expect(small.maxIncomingBytesPerIp).toBe(4 * 2 * MiB);
    expect(() => configFromEnvironment({ MAX_MESSAGE_BYTES: String(MiB), MAX_INCOMING_BYTES_PER_IP: String(MiB) })).toThrow(
      /MAX_INCOMING_BYTES_PER_IP must be an integer from 2097152/,
    );
    expect(() => configFromEnvironment({ MAX_INCOMING_BYTES_PER_IP: String(200 * MiB), MAX_INCOMING_BYTES_TOTAL: String(100 * MiB) })).toThrow(
      /MAX_INCOMING_BYTES_TOTAL must be an integer from 209715200/,
    );
  });

  it('bounds unsent bytes per connection, per address and in all, each at least the one before', () => {
    const defaults = configFromEnvironment({});
    expect([defaults.maxBufferedBytes, defaults.maxBufferedBytesPerIp, defaults.maxBufferedBytesTotal]).toEqual([16 * MiB, 64 * MiB, 512 * MiB]);
    expect(DEFAULT_LIMITS.maxBufferedBytesPerIp).toBe(defaults.maxBufferedBytesPerIp);
    // Following a larger MAX_BUFFERED_BYTES, the defaults stay in order.
    const large = configFromEnvironment({ MAX_BUFFERED_BYTES: String(200 * MiB) });
    expect(large.maxBufferedBytesPerIp).toBe(4 * large.maxBufferedBytes);
    expect(large.maxBufferedBytesTotal).toBe(large.maxBufferedBytesPerIp);
    expect(() => configFromEnvironment({ MAX_BUFFERED_BYTES_PER_IP: String(10 * MiB) })).toThrow(/MAX_BUFFERED_BYTES_PER_IP must be an integer from 16777216/);
    expect(() => configFromEnvironment({ MAX_BUFFERED_BYTES_TOTAL: String(50 * MiB) })).toThrow(/MAX_BUFFERED_BYTES_TOTAL must be an integer from 67108864/);
    expect(() => configFromEnvironment({ MAX_BUFFERED_BYTES_TOTAL: String(65 * 1024 * MiB) })).toThrow(/MAX_BUFFERED_BYTES_TOTAL/);
    expect(configFromEnvironment({ MAX_BUFFERED_BYTES_TOTAL: String(2048 * MiB) }).maxBufferedBytesTotal).toBe(2048 * MiB);
    // [SV3] Less than one list: every newcomer to a full list would be dropped as a slow consumer
    // by its first answer, each time it came back. It was taken down to 1 KiB.
    expect(() => configFromEnvironment({ MAX_BUFFERED_BYTES: String(MiB) })).toThrow(/MAX_BUFFERED_BYTES must be an integer from 8388608/);
    expect(() => configFromEnvironment({ MAX_LIST_BYTES: String(MiB), MAX_BUFFERED_BYTES: String(MiB - 1) })).toThrow(/MAX_BUFFERED_BYTES/);
    expect(configFromEnvironment({ MAX_LIST_BYTES: String(MiB), MAX_BUFFERED_BYTES: String(MiB) }).maxBufferedBytes).toBe(MiB);
  });

  it('refuses MAX_LIST_BYTES and MAX_MESSAGE_BYTES over 64 MiB: a list or message past a quarter of what a record on disk may hold could be acknowledged and then read back as damage', () => {
    expect(MAX_CONFIGURABLE_LIST_BYTES).toBe(64 * MiB);
    expect(MAX_CONFIGURABLE_LIST_BYTES * 4).toBe(MAX_RECORD_BYTES);
    expect(configFromEnvironment({ MAX_LIST_BYTES: String(64 * MiB) }).maxMessageBytes).toBe(64 * MiB);
    expect(() => configFromEnvironment({ MAX_LIST_BYTES: String(64 * MiB + 1) })).toThrow(/MAX_LIST_BYTES must be an integer from 1024 to 67108864/);
    expect(() => configFromEnvironment({ MAX_MESSAGE_BYTES: String(300 * MiB) })).toThrow(/MAX_MESSAGE_BYTES must be an integer from 64 to 67108864/);
  });

  it('reads REFUSE_LIST_CONTENT as a yes/no setting, off unless set, and refuses anything else', () => {
    expect(configFromEnvironment({}).refuseListContent).toBe(false);
    expect(DEFAULT_LIMITS.refuseListContent).toBe(false);
    for (const yes of ['1', 'true', 'YES', ' yes ']) expect(configFromEnvironment({ REFUSE_LIST_CONTENT: yes }).refuseListContent, yes).toBe(true);
    for (const no of ['', '0', 'false', 'no']) expect(configFromEnvironment({ REFUSE_LIST_CONTENT: no }).refuseListContent, no).toBe(false);
    expect(() => configFromEnvironment({ REFUSE_LIST_CONTENT: 'maybe' })).toThrow(/REFUSE_LIST_CONTENT must be 1 or 0/);
  });
});
