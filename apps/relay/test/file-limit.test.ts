import { describe, expect, it } from 'vitest';
import { connectionsWithinFileLimit, openFileLimit } from '../src/file-limit.js';

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

  it('leaves two files per connection (socket and list log) after a reserve for the rest', () => {
    expect(connectionsWithinFileLimit(1024)).toBe(480);
    expect(connectionsWithinFileLimit(300)).toBe(118);
    expect(connectionsWithinFileLimit(10)).toBe(1);
  });
});
