import { describe, expect, it } from 'vitest';
import { DEFAULT_STORAGE } from '../src/config.js';
import { connectionsWithinFileLimit, listLogsWithinFileLimit, openFileLimit } from '../src/file-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('open-file limit', () => {
  it('reads the soft limit; unknown when unlimited or unreadable', () => {
    expect(openFileLimit(() => LIMITS)).toBe(1024);
    expect(openFileLimit(() => LIMITS.replace('1024                 524288', 'unlimited            unlimited'))).toBeUndefined();
    expect(
      openFileLimit(() => {
        throw new Error('ENOENT: /proc/self/limits (not Linux)');
      }),
    ).toBeUndefined();
  });

  it('gives the list logs held open a quarter of the limit, at least 64 and at most 4,096', () => {
    expect(listLogsWithinFileLimit(300)).toBe(75);
    expect(listLogsWithinFileLimit(1024)).toBe(256);
    expect(listLogsWithinFileLimit(65_536)).toBe(4096);
    expect(listLogsWithinFileLimit(100)).toBe(64);
    expect(listLogsWithinFileLimit(undefined)).toBe(4096);
  });

  it('budgets a reserve, compactions, the capped list logs and plain HTTP sockets, then one file per connection', () => {
    // 1024 − 64 reserved − 32 compactions − 256 list logs − 32 plain HTTP sockets.
    expect(connectionsWithinFileLimit(1024, 32)).toBe(640);
    expect(connectionsWithinFileLimit(300, 32)).toBe(97);
    expect(connectionsWithinFileLimit(300, 0)).toBe(129);
    expect(connectionsWithinFileLimit(10, 32)).toBe(1);
    for (const limit of [200, 300, 1024, 4096, 65_536]) {
      const everything = 64 + DEFAULT_STORAGE.maxConcurrentCompactions + listLogsWithinFileLimit(limit) + 32 + connectionsWithinFileLimit(limit, 32);
      expect(everything).toBeLessThanOrEqual(limit);
    }
  });
});
