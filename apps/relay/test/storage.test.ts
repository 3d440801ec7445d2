import { DiskListStorage } from '../src/storage/disk-storage.js';
import { MemoryListStorage } from '../src/storage/memory-storage.js';
import { temporaryDirectory } from './helpers.js';
import { runListStorageContract } from './storage-contract.js';

runListStorageContract('memory', async () => {
  const storage = new MemoryListStorage();
  return { storage, reopen: () => Promise.resolve(storage), cleanup: () => storage.close() };
});

runListStorageContract('disk', async () => {
  const { dir, remove } = await temporaryDirectory('basket-contract-');
  const opened: DiskListStorage[] = [];
  const open = (): DiskListStorage => {
    const storage = new DiskListStorage({ dataDir: dir });
    opened.push(storage);
    return storage;
  };
  const storage = open();
  return {
    storage,
    // A restart: the running instance stops first (one relay per DATA_DIR).
    reopen: async () => {
      await opened.at(-1)?.close();
      return open();
    },
    cleanup: async () => {
      await Promise.all(opened.map((s) => s.close()));
      await remove();
    },
  };
});
