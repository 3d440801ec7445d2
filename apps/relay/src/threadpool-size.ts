/**
 * Imported first by main.ts, before anything touches libuv's threadpool (created on first use).
 * Every list fsyncs its own log; with the default 4 threads, fsyncs of different lists queue
 * behind each other, while the kernel can fold concurrent fsyncs into one journal commit. So we
 * let many wait at once. An explicit UV_THREADPOOL_SIZE in the environment wins.
 */
process.env['UV_THREADPOOL_SIZE'] ??= '64';
