import type { StorageObserver } from './storage/list-storage.js';

/**
 * A minimal Prometheus text-format registry (counters, gauges, histograms with labels).
 * Hand-written instead of prom-client: the relay needs a dozen series and no default
 * process collectors beyond RSS, and keeping the runtime dependency list at ws + Yjs makes
 * the relay easier to audit and to ship.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return '{' + entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',') + '}';
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels?: Labels, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, value] of this.values) lines.push(`${this.name}${key} ${value}`);
    return lines.join('\n');
  }
}

export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${this.read()}`].join('\n');
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bucketBounds: readonly number[],
  ) {
    this.counts = bucketBounds.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    for (let i = 0; i < this.bucketBounds.length; i++) {
      if (value <= (this.bucketBounds[i] as number)) this.counts[i] = (this.counts[i] as number) + 1;
    }
  }
  get observations(): number {
    return this.count;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.bucketBounds.forEach((bound, i) => {
      lines.push(`${this.name}_bucket{le="${bound}"} ${this.counts[i]}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${this.sum}`);
    lines.push(`${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

const LATENCY_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5];

export class RelayMetrics {
  readonly updatesIn = new Counter('basket_relay_updates_in_total', 'Document updates received from clients');
  readonly updatesOut = new Counter('basket_relay_updates_out_total', 'Document update messages sent to clients');
  readonly slicedUpdates = new Counter('basket_relay_sliced_updates_total', 'Large updates applied in slices, one per event-loop turn');
  readonly slicedLoads = new Counter('basket_relay_sliced_loads_total', 'Lists loaded in turns, their large stored updates in slices');
  readonly syncAnswersInParts = new Counter('basket_relay_sync_answers_in_parts_total', 'Answers to sync requests larger than one part, sent in parts');
  readonly bytesIn = new Counter('basket_relay_bytes_in_total', 'WebSocket payload bytes received');
  readonly bytesOut = new Counter('basket_relay_bytes_out_total', 'WebSocket payload bytes sent');
  readonly acksSent = new Counter('basket_relay_acks_sent_total', 'Durable acknowledgements (message 100) sent');
  readonly errors = new Counter('basket_relay_errors_total', 'Refusals and failures by kind');
  readonly connectionsOpened = new Counter('basket_relay_connections_opened_total', 'WebSocket connections accepted');
  readonly fsyncSeconds = new Histogram('basket_relay_fsync_seconds', 'Time for one list batch to become durable: the journal write holding it, including waiting for the one in flight', LATENCY_SECONDS_BUCKETS);
  readonly ackSeconds = new Histogram('basket_relay_ack_seconds', 'Time from receiving an update to its durable acknowledgement', LATENCY_SECONDS_BUCKETS);
  readonly batchUpdates = new Histogram('basket_relay_group_commit_updates', 'Updates in one list batch (one storage append); the journal groups batches of all lists into each write', [1, 2, 5, 10, 20, 50, 100, 500]);
  readonly journalWriteRecords = new Histogram('basket_relay_journal_write_records', 'Records (one per update, from any list) in one O_DSYNC journal write: the group commit across lists', [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
  readonly journalWriteSeconds = new Histogram('basket_relay_journal_write_seconds', 'Time of one O_DSYNC journal write, from issuing it to its completion on the event loop', LATENCY_SECONDS_BUCKETS);
  readonly offThreadDecodeSeconds = new Histogram('basket_relay_off_thread_decode_seconds', 'Time the decode worker took to check one large frame (OFF_THREAD_DECODE_BYTES), off the event loop', [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  readonly listLoadSeconds = new Histogram('basket_relay_list_load_seconds', 'Time of loading one list (replaying what is stored on the event loop, cutting large stored updates on the decode worker), charged to the address whose connection made it load', [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  readonly checkpointSeconds = new Histogram('basket_relay_checkpoint_seconds', 'Time of one checkpoint: copying a journal segment into the list logs', [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  /** What the disk storage reports, recorded here (the storage layer knows no registry). */
  readonly storageObserver: StorageObserver = {
    journalWritten: (records, seconds) => {
      this.journalWriteRecords.observe(records);
      this.journalWriteSeconds.observe(seconds);
    },
    checkpointed: (seconds) => this.checkpointSeconds.observe(seconds),
    failed: (kind) => this.errors.inc({ kind }),
  };
  private readonly gauges: Gauge[] = [];
  private readonly beforeRenderHooks: Array<() => void> = [];

  addGauge(name: string, help: string, read: () => number): void {
    this.gauges.push(new Gauge(name, help, read));
  }

  /** Runs `hook` at the start of every render: for gauges that share one sample per scrape. */
  beforeRender(hook: () => void): void {
    this.beforeRenderHooks.push(hook);
  }

  render(): string {
    for (const hook of this.beforeRenderHooks) hook();
    const metrics: Metric[] = [
      ...this.gauges,
      this.updatesIn,
      this.slicedUpdates,
      this.slicedLoads,
      this.syncAnswersInParts,
      this.updatesOut,
      this.bytesIn,
      this.bytesOut,
      this.acksSent,
      this.errors,
      this.connectionsOpened,
      this.fsyncSeconds,
      this.ackSeconds,
      this.batchUpdates,
      this.journalWriteRecords,
      this.journalWriteSeconds,
      this.offThreadDecodeSeconds,
      this.listLoadSeconds,
      this.checkpointSeconds,
    ];
    return metrics.map((m) => m.render()).join('\n') + '\n';
  }
}
