import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // Socket tests wait on real I/O; the machine is shared, so give them room.
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
