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

  it('leaves two files per connection (socket and list log) after plain HTTP sockets and a reserve for the rest', () => {
    expect(connectionsWithinFileLimit(1024, 32)).toBe(464);
    expect(connectionsWithinFileLimit(300, 32)).toBe(102);
    expect(connectionsWithinFileLimit(300, 0)).toBe(118);
    expect(connectionsWithinFileLimit(10, 32)).toBe(1);
  });
});
