// The decode worker's entry when the relay runs from its TypeScript sources (the tests): a worker
// cannot load .ts by itself, and `--import tsx` in its execArgv is not applied on Node 20.
import { register } from 'tsx/esm/api';

register();
await import('./decode-worker.ts');
