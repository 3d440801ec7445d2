import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import { WebSocketServer } from 'ws';
import { monotonicNow } from '../clock.js';
import type { DEFAULT_STORAGE, RelayConfig } from '../config.js';
import { maxReadableFrameBytes } from '../config.js';
import { isSyncUrl, listIdFromSyncUrl } from '../list-id.js';
import type { Logger } from '../log.js';
import { RelayMetrics } from '../metrics.js';
import type { ListStorage } from '../storage/list-storage.js';
import { CLOSE_HANDSHAKE_MS, CloseCode } from '../sync/close-codes.js';
import { AddressBudgets, requesterOf } from '../sync/address-budgets.js';
import { Connection, INCOMING_BOUND_KIND } from '../sync/connection.js';
import type { BacklogBound } from '../sync/shared-backlogs.js';
import { OffThreadDecoder } from '../sync/off-thread-decoder.js';
import type { StoredUpdateSlicer } from '../sync/stored-replay.js';
import type { SyncAnswerCutter } from '../sync/sync-answer-parts.js';
import { RoomRegistry } from '../sync/room-registry.js';
import { SharedBacklogs } from '../sync/shared-backlogs.js';
import { rawSocketOf, unhandledIncomingBytes } from '../sync/ws-incoming.js';
import type { TrustedProxies } from './client-address.js';
import { addressGroup, clientAddress, normalizeAddress, trustedProxies } from './client-address.js';
import { StaticFiles } from './static-files.js';

/** Everything the server itself enforces; where and how lists are stored is the storage's configuration. */
export type RelayLimits = Omit<
  RelayConfig,
  'port' | 'host' | 'dataDir' | 'staticDir' | 'logLevel' | 'trustedProxies' | keyof typeof DEFAULT_STORAGE
>;

export interface RelayServerOptions {
  readonly limits: RelayLimits;
  readonly storage: ListStorage;
  readonly logger: Logger;
  readonly staticDir?: string | undefined;
  readonly now?: () => number;
  /** Shared with the storage, which reports its journal writes there; a fresh registry if absent. */
  readonly metrics?: RelayMetrics;
  /** Reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client; none if absent. */
  readonly trustedProxies?: readonly string[];
  /** Test seam: how long a plain HTTP socket may make no progress (default HTTP_IDLE_MS). */
  readonly httpIdleMs?: number;
  /** Test seam: how long a request's headers may take to arrive (default HEADERS_TIMEOUT_MS). */
  readonly httpHeadersMs?: number;
  /** Test seam: the largest static file sent from memory (default MAX_FILE_IN_MEMORY_BYTES). */
  readonly staticInMemoryBytes?: number;
}

/**
 * Connections are pinged in slices spread over the ping interval, a tick at most every
 * HEARTBEAT_TICK_MIN_MS. Each ping is a socket write (about 13 µs of the event loop): 10 slices
 * of 5,000 phones stalled every list 5–8 ms every 3 s, a visible share of the fan-out p99
 * (docs/benchmark-history.md, "What limits the tail here"); 100 slices make it about 0.7 ms every 300 ms.
 */
const MAX_HEARTBEAT_SLICES = 100;
const HEARTBEAT_TICK_MIN_MS = 100;

export function heartbeatSlices(pingIntervalMs: number): number {
  return Math.max(1, Math.min(MAX_HEARTBEAT_SLICES, Math.floor(pingIntervalMs / HEARTBEAT_TICK_MIN_MS)));
}

/**
 * TCP sockets allowed beyond the WebSocket limits, for page loads and requests in progress: in
 * total, and from one IP. Every socket takes a file (see file-limit.ts), and a flood of sockets
 * that never finish a request would otherwise use up the open-file limit before any upgrade is
 * checked.
 */
export const PLAIN_HTTP_SOCKETS = 32;
const PLAIN_HTTP_SOCKETS_PER_IP = 16;
/** A request must arrive whole within these; idle half-open sockets are not kept for Node's 60 s / 300 s. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * How often Node looks for requests past those timeouts. Its default, 30 s, let a socket that
 * sent half its headers hold its slot (one of PLAIN_HTTP_SOCKETS) for up to 40 s, not 10.
 */
const REQUEST_TIMEOUTS_CHECKED_EVERY_MS = 1_000;
/**
 * A plain HTTP socket that neither reads nor is read for this long is cut. The request timeouts
 * end once the request is read: a client that asks for the app's script and never reads the
 * answer held its socket and the open file for good. A WebSocket clears it (`ws` sets none).
 */
const HTTP_IDLE_MS = 60_000;
/**
 * Peers whose ignored X-Forwarded-For is logged (once each). A proxy is one or a few addresses;
 * past this many the header comes from clients themselves, and a log line each would flood.
 */
const FORWARDED_FOR_WARNINGS = 16;
const SLASH = 0x2f;

/**
 * The relay's one HTTP server: the web app, /healthz, /metrics, and WebSocket sync at
 * /sync/<listId>. List ids and per-IP limits are checked before the upgrade, so a refused
 * request never allocates a socket, a document or a file.
 */
export class RelayServer {
  readonly metrics: RelayMetrics;
  readonly registry: RoomRegistry;
  private readonly httpServer: http.Server;
  private readonly webSockets: WebSocketServer;
  private readonly connections = new Set<Connection>();
  /** Open WebSocket connections per address group (an IPv4 address, an IPv6 /64: see addressGroup). */
  private readonly connectionsPerIp = new OpenCounts();
  private readonly addressBudgets: AddressBudgets;
  private readonly sendBacklogs: SharedBacklogs;
  private readonly incomingBacklogs: SharedBacklogs;
  private readonly trustedProxies: TrustedProxies;
  /** Open TCP sockets per address group, upgraded or not. */
  private readonly socketsPerIp = new OpenCounts();
  /** Sockets of plain requests that offered another protocol's upgrade (see respondIgnoringUpgrade). */
  private readonly ignoredUpgradeSockets = new Set<Duplex>();
  private readonly staticFiles: StaticFiles | undefined;
  private readonly now: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Checks large frames off the event loop; started with the first one. */
  private readonly offThreadDecoder: OffThreadDecoder | undefined;
  private heartbeatTick = 0;
  private readonly heartbeatSliceCount: number;
  /** Untrusted peers that sent X-Forwarded-For and have been logged (see FORWARDED_FOR_WARNINGS). */
  private readonly untrustedForwarders = new Set<string>();
  private readonly eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
  private nextConnectionId = 1;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: RelayServerOptions) {
    this.now = options.now ?? monotonicNow;
    this.heartbeatSliceCount = heartbeatSlices(options.limits.pingIntervalMs);
    const { offThreadDecodeBytes, decodeWorkerHeapMb, decodeWorkerCheckMs } = options.limits;
    this.offThreadDecoder =
      offThreadDecodeBytes > 0 ? new OffThreadDecoder({ maxHeapMb: decodeWorkerHeapMb, maxCheckMs: decodeWorkerCheckMs }) : undefined;
    this.trustedProxies = trustedProxies(options.trustedProxies ?? []);
    this.addressBudgets = new AddressBudgets(
      {
        deliveriesPerSecond: options.limits.maxDeliveriesPerIpPerSecond,
        loopMsPerSecond: options.limits.maxLoopMsPerIpPerSecond,
        storedBytesPerHour: options.limits.maxStoredBytesPerIpPerHour,
      },
      this.now,
      () => this.metrics.errors.inc({ kind: 'address_busy_load_waiting' }),
    );
    this.metrics = options.metrics ?? new RelayMetrics();
    const { limits } = options;
    this.sendBacklogs = new SharedBacklogs({ perAddressBytes: limits.maxBufferedBytesPerIp, totalBytes: limits.maxBufferedBytesTotal });
    this.incomingBacklogs = new SharedBacklogs({ perAddressBytes: limits.maxIncomingBytesPerIp, totalBytes: limits.maxIncomingBytesTotal });
    this.registry = new RoomRegistry({
      storage: options.storage,
      logger: options.logger,
      metrics: this.metrics,
      now: this.now,
      maxLoadedLists: limits.maxLoadedLists,
      maxLoadedListBytes: limits.maxLoadedListBytes,
      maxLoadedListBytesPerAddress: limits.maxLoadedListBytesPerIp,
      maxListBytes: limits.maxListBytes,
      compactLogBytes: limits.compactLogBytes,
      idleUnloadMs: limits.idleUnloadMs,
      shutdownCompactMs: limits.shutdownCompactMs,
      ...(this.offThreadDecoder === undefined ? {} : offThreadWorkOf(this.offThreadDecoder, limits.offThreadDecodeBytes)),
    });
    this.staticFiles = options.staticDir === undefined ? undefined : new StaticFiles(options.staticDir, options.staticInMemoryBytes);
    this.webSockets = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      // Frames a little over the limit are read and refused with a clear 4413; beyond that ws
      // drops the socket itself (1009) before buffering the frame, so one connection can hold at
      // most this much of an incoming frame in memory.
      maxPayload: maxReadableFrameBytes(limits.maxMessageBytes),
    });
    this.httpServer = http.createServer({ connectionsCheckingInterval: REQUEST_TIMEOUTS_CHECKED_EVERY_MS }, (request, response) =>
      this.respond(request, response),
    );
    this.httpServer.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!isWebSocketUpgrade(request)) {
        this.respondIgnoringUpgrade(request, socket);
        return;
      }
      try {
        this.handleUpgrade(request, socket, head);
      } catch (error) {
        this.options.logger.error('http.upgrade_error', { error });
        socket.destroy();
      }
    });
    this.httpServer.maxConnections = limits.maxConnections + PLAIN_HTTP_SOCKETS;
    // Node closes sockets past it at accept: while the relay is full not even /metrics answers,
    // so this count, read later, is what shows it was ([OM4]). No log line: a flood would flood it.
    this.httpServer.on('drop', () => this.metrics.errors.inc({ kind: 'too_many_sockets_relay' }));
    this.httpServer.headersTimeout = options.httpHeadersMs ?? HEADERS_TIMEOUT_MS;
    this.httpServer.requestTimeout = REQUEST_TIMEOUT_MS;
    this.httpServer.timeout = options.httpIdleMs ?? HTTP_IDLE_MS;
    this.httpServer.on('connection', (socket: Socket) => this.admitSocket(socket));
    this.httpServer.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      if (socket.writable) socket.end(`HTTP/1.1 ${clientErrorStatus(error)}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    this.metrics.addGauge('basket_relay_connections', 'Open WebSocket connections', () => this.connections.size);
    this.metrics.addGauge('basket_relay_loaded_lists', 'Lists loaded in memory', () => this.registry.loadedCount);
    this.metrics.addGauge(
      'basket_relay_presence_bytes',
      'Presence states held on the loaded lists, as counted against each address\'s share (1 MiB) and the relay\'s (64 MiB)',
      () => this.addressBudgets.presence.held,
    );
    this.metrics.addGauge('basket_relay_loaded_list_bytes', 'Sizes of the lists loaded in memory: stored bytes, or estimated heap over 34 when more (bounded by MAX_LOADED_LIST_BYTES)', () => this.registry.loadedByteCount);
    this.metrics.addGauge(
      'basket_relay_lists_waiting_for_storage',
      'Loaded lists whose last write failed (a full or failing disk): their newest edits are not acknowledged',
      () => this.registry.waitingForStorageCount,
    );
    this.metrics.addGauge(
      'basket_relay_send_backlog_bytes',
      'Bytes queued for peers that have not read them, as counted at each connection\'s last send (at least the true figure)',
      () => this.sendBacklogs.countedBytes,
    );
    this.metrics.addGauge(
      'basket_relay_incoming_bytes',
      'Bytes read from peers and not yet handled (frames still arriving, frames waiting for their address\'s budgets), as counted at each connection\'s last read (at least the true figure)',
      () => this.incomingBacklogs.countedBytes,
    );
    this.metrics.addGauge('basket_relay_rss_bytes', 'Resident set size of the relay process', () => process.memoryUsage.rss());
    // Every latency the relay reports includes time spent waiting for the event loop; this says
    // how much. Percentiles cannot be summed across scrapes, so each scrape reports the window
    // since the previous one.
    this.eventLoopDelay.enable();
    let delayWindow = { p99Seconds: 0, maxSeconds: 0 };
    this.metrics.beforeRender(() => {
      const sampled = this.eventLoopDelay.count > 0;
      delayWindow = {
        p99Seconds: sampled ? this.eventLoopDelay.percentile(99) / 1e9 : 0,
        maxSeconds: sampled ? this.eventLoopDelay.max / 1e9 : 0,
      };
      this.eventLoopDelay.reset();
    });
    this.metrics.addGauge(
      'basket_relay_event_loop_delay_p99_seconds',
      'Event-loop delay, 99th percentile since the previous scrape',
      () => delayWindow.p99Seconds,
    );
    this.metrics.addGauge(
      'basket_relay_event_loop_delay_max_seconds',
      'Longest event-loop delay since the previous scrape',
      () => delayWindow.maxSeconds,
    );
  }

  /** Refuses a TCP socket past its IP's share; counts it until it closes otherwise. */
  private admitSocket(socket: Socket): void {
    const peer = normalizeAddress(socket.remoteAddress ?? 'unknown');
    // A trusted proxy's sockets carry every client's: only the total limit applies to them.
    if (this.trustedProxies.has(peer)) return;
    const ip = addressGroup(peer);
    if (this.socketsPerIp.get(ip) >= this.options.limits.maxConnectionsPerIp + PLAIN_HTTP_SOCKETS_PER_IP) {
      // No log line per socket: a flood would flood the log too. The metric counts them.
      this.metrics.errors.inc({ kind: 'too_many_sockets' });
      socket.destroy();
      return;
    }
    this.socketsPerIp.opened(ip);
    socket.once('close', () => this.socketsPerIp.closed(ip));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async listen(port: number, host?: string): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.httpServer.once('error', reject);
      this.httpServer.listen(port, host, () => {
        this.httpServer.off('error', reject);
        resolve();
      });
    });
    const { limits } = this.options;
    this.timers.push(setInterval(() => this.heartbeat(), limits.pingIntervalMs / this.heartbeatSliceCount).unref());
    this.timers.push(
      setInterval(() => {
        this.registry.sweepIdle();
        this.addressBudgets.sweep((address) => this.connectionsPerIp.has(address));
      }, Math.max(50, Math.min(limits.idleUnloadMs, 5000))).unref(),
    );
    if (this.staticFiles !== undefined && !(await this.staticFiles.isAvailable())) {
      this.options.logger.warn('static.missing', {
        staticDir: this.options.staticDir,
        note: 'no index.html there: the web app is not served (build it with pnpm build); sync and /healthz work',
      });
    }
    return this.httpServer.address() as AddressInfo;
  }

  /** Stops accepting, flushes every list, closes sockets with 1012, closes storage. */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.eventLoopDelay.disable();
    const serverClosed = new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
    await this.registry.shutdown(CloseCode.serviceRestart, 'relay restarting');
    for (const connection of this.connections) connection.close(CloseCode.serviceRestart, 'relay restarting');
    await this.offThreadDecoder?.close();
    await this.options.storage.close();
    this.httpServer.closeAllConnections();
    for (const socket of this.ignoredUpgradeSockets) socket.destroy();
    await serverClosed;
  }

  /**
   * Pings one slice of the connections per tick, so each is pinged once per interval without
   * thousands of pings (and pongs) landing in one event-loop turn and stalling live updates.
   */
  private heartbeat(): void {
    const slice = this.heartbeatTick++ % this.heartbeatSliceCount;
    for (const connection of this.connections) {
      if (connection.id % this.heartbeatSliceCount === slice) connection.heartbeat();
    }
  }

  /**
   * Not ok while stopping, or while the storage can serve no list (its journal of the previous run
   * not recovered): every load and write fails meanwhile, so unlike a full disk (see
   * listsWaitingForStorage) there is no phone being served that a restart would drop.
   */
  private healthStatus(): 'ok' | 'stopping' | 'storage_not_ready' {
    if (this.closing !== undefined) return 'stopping';
    return this.options.storage.ready === false ? 'storage_not_ready' : 'ok';
  }

  private respond(request: http.IncomingMessage, response: http.ServerResponse): void {
    this.handleRequest(request, response).catch((error: unknown) => {
      this.options.logger.error('http.handler_error', { url: request.url, error });
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  }

  /**
   * Node hands every request offering an upgrade to the 'upgrade' handler, whatever the protocol.
   * One offering another (`curl --http2` offers h2c) is answered as a plain request, as RFC 9110
   * lets a server ignore an upgrade it does not take: refused, /healthz answered 400 to it.
   */
  private respondIgnoringUpgrade(request: http.IncomingMessage, socket: Duplex): void {
    socket.on('error', () => socket.destroy());
    // Node has detached the socket from the HTTP server for the upgrade: the server's idle
    // timeout, its 'drain' to the response and closeAllConnections no longer reach it. Without
    // them a file over 64 KiB stalled at its first full buffer, holding the socket and the file
    // open for good, and a stop waited on it.
    (socket as Socket).setTimeout(this.httpServer.timeout, () => socket.destroy());
    this.ignoredUpgradeSockets.add(socket);
    socket.once('close', () => this.ignoredUpgradeSockets.delete(socket));
    const response = new http.ServerResponse(request);
    const forwardDrain = (): boolean => response.emit('drain');
    socket.on('drain', forwardDrain);
    response.shouldKeepAlive = false;
    response.assignSocket(socket as Socket);
    response.once('finish', () => {
      socket.off('drain', forwardDrain);
      response.detachSocket(socket as Socket);
      endSocket(socket);
    });
    this.respond(request, response);
  }

  private async handleRequest(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const pathname = (request.url ?? '/').split('?')[0] ?? '/';
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    // The relay's own paths answer with a slash after them too (as most web servers route), and
    // are never the web app's: a probe written as /healthz/ got the app's page, 200 whatever the
    // relay's health, and a monitor read that as healthy.
    const route = withoutTrailingSlashes(pathname);
    if (route === '/healthz') {
      const status = this.healthStatus();
      const body = JSON.stringify({
        status,
        connections: this.connections.size,
        loadedLists: this.registry.loadedCount,
        // Still 200: restarting does not give a full disk room, and would drop every phone.
        listsWaitingForStorage: this.registry.waitingForStorageCount,
      });
      response.writeHead(status === 'ok' ? 200 : 503, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-store',
      });
      response.end(body);
      return;
    }
    if (route === '/metrics') {
      response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' });
      response.end(this.metrics.render());
      return;
    }
    if (route === '/sync') {
      respondNotFound(response, 'Not found: sync is at /sync/<listId>');
      return;
    }
    if (pathname.startsWith('/sync/')) {
      // RFC 9110 15.5.22: a 426 names the protocol to upgrade to.
      response.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'Upgrade' }).end('WebSocket upgrade required\n');
      return;
    }
    if (this.staticFiles !== undefined && (await this.staticFiles.serve(request, response, pathname))) return;
    respondNotFound(response, 'Not found');
  }

  private handleUpgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const forwardedFor = request.headers['x-forwarded-for'];
    const remoteAddress = clientAddress(request.socket.remoteAddress, forwardedFor, this.trustedProxies);
    const { limits, logger } = this.options;
    if (forwardedFor !== undefined) this.warnIfUntrustedProxy(request.socket.remoteAddress);
    if (this.closing !== undefined) {
      rejectUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    const group = addressGroup(remoteAddress);
    const fromThisIp = this.connectionsPerIp.get(group);
    if (fromThisIp >= limits.maxConnectionsPerIp || this.connections.size >= limits.maxConnections) {
      this.metrics.errors.inc({ kind: 'too_many_connections' });
      logger.warn('connection.too_many', { remoteAddress, fromThisIp, total: this.connections.size });
      rejectUpgrade(socket, 429, 'Too Many Requests');
      return;
    }
    if (!isSyncUrl(request.url)) {
      // A scanner or a misrouted proxy, not a phone with a bad share link: counted apart.
      this.metrics.errors.inc({ kind: 'upgrade_not_sync' });
      logger.warn('connection.not_sync_path', { remoteAddress, url: (request.url ?? '').slice(0, 200) });
      rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    const listId = listIdFromSyncUrl(request.url);
    if (listId === undefined) {
      this.metrics.errors.inc({ kind: 'invalid_list_id' });
      logger.warn('connection.invalid_list_id', { remoteAddress, url: (request.url ?? '').slice(0, 200) });
      // A permanent refusal (PRODUCT.md): closed with 4400 so y-websocket stops for good. An HTTP
      // 400 reaches it as 1006, and it would retry the same id forever. The socket is closed at
      // once and the id is never used: no document, no file.
      this.webSockets.handleUpgrade(request, socket, head, (ws) => this.refuseAfterHandshake(ws, group, CloseCode.invalidListId, 'invalid list id'));
      return;
    }
    // Only checked here: the list is loaded once `ws` has accepted the handshake, so a request it
    // refuses (wrong method or version) reads nothing from disk.
    const existingBudget = this.addressBudgets.existing(group);
    if (!this.registry.canAcquire(listId, existingBudget === undefined ? undefined : requesterOf(existingBudget))) {
      const heldByAddress = existingBudget?.lists.bytes() ?? 0;
      const fitsWithoutShare = this.registry.canAcquire(listId);
      this.metrics.errors.inc({ kind: fitsWithoutShare ? 'address_list_share' : 'too_many_lists' });
      logger.warn('connection.too_many_lists', { remoteAddress, loaded: this.registry.loadedCount, loadedBytes: this.registry.loadedByteCount, heldByAddress });
      rejectUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    this.webSockets.handleUpgrade(request, socket, head, (ws) => {
      const budget = this.addressBudgets.forAddress(group);
      // Closing first: during a shutdown, acquiring would load a list nobody flushes or releases.
      // A list not loaded yet is loaded at this address's cost, when its turn comes (LoadTurns): a
      // list stored to load slowly could otherwise be loaded over and over for nothing.
      const room = this.closing === undefined ? this.registry.acquire(listId, requesterOf(budget)) : undefined;
      if (room === undefined) {
        this.refuseAfterHandshake(ws, group, CloseCode.tryAgainLater, 'busy');
        return;
      }
      let connection: Connection;
      try {
        connection = new Connection({
          id: this.nextConnectionId++,
          socket: ws,
          room,
          remoteAddress,
          addressGroup: group,
          addressBudget: budget,
          sendBacklog: this.sendBacklogs.open(group, () => ws.bufferedAmount),
          openIncoming: (readIncoming) => this.incomingBacklogs.open(group, readIncoming),
          limits,
          logger,
          metrics: this.metrics,
          now: this.now,
          onClosed: (closed) => this.forget(closed),
          ...(this.offThreadDecoder === undefined ? {} : { offThreadDecoder: this.offThreadDecoder }),
        });
      } catch (error) {
        // Joining sends the list's state and presence at once; if that throws, the socket goes
        // (its close handler takes it out of the room) and nothing is counted against its address.
        this.metrics.errors.inc({ kind: 'open_failed' });
        logger.error('connection.open_failed', { listId, remoteAddress, error });
        this.refuseAfterHandshake(ws, group, CloseCode.internalError, 'internal error');
        return;
      }
      this.connectionsPerIp.opened(group);
      this.connections.add(connection);
      this.metrics.connectionsOpened.inc();
      logger.debug('connection.opened', { connection: connection.id, listId, remoteAddress });
    });
  }

  /**
   * Closes a socket the relay will not serve. Until the close handshake ends `ws` still reads what
   * the peer sends: an invalid frame is then an 'error' event (with no listener, an uncaught
   * exception, logged as a relay bug, for two packets from anyone), and the frames it buffers
   * count against the address's and the relay's bounds on unfinished frames like a
   * connection's, or sockets refused one after another held a large frame each, uncounted.
   */
  private refuseAfterHandshake(ws: WebSocket, group: string, code: number, reason: string): void {
    ws.on('error', () => undefined);
    const incoming = this.incomingBacklogs.open(group, () => unhandledIncomingBytes(ws));
    // Counted and logged as a connection's drop is (Connection.dropForIncoming), or these drops went unseen ([OM3]).
    const drop = (bound: BacklogBound): void => {
      this.metrics.errors.inc({ kind: INCOMING_BOUND_KIND[bound] });
      this.options.logger.warn('connection.incoming_bound', { bound, refused: true, remoteAddress: group });
      ws.terminate();
      incoming.release();
    };
    incoming.evictWith(drop);
    rawSocketOf(ws)?.on('data', () => {
      const bound = incoming.makeRoomFor(0);
      if (bound !== undefined) drop(bound);
    });
    ws.once('close', () => incoming.release());
    ws.close(code, reason);
    setTimeout(() => ws.terminate(), CLOSE_HANDSHAKE_MS).unref();
  }

  /**
   * A relay behind a proxy that is not in TRUSTED_PROXIES counts every phone as the proxy's one
   * address, so the 201st phone is refused (MAX_CONNECTIONS_PER_IP) with nothing saying why.
   * The header is still ignored (a client may send it itself), but the operator is told once.
   */
  private warnIfUntrustedProxy(peer: string | undefined): void {
    const address = normalizeAddress(peer ?? 'unknown');
    if (this.trustedProxies.has(address) || this.untrustedForwarders.has(address)) return;
    if (this.untrustedForwarders.size >= FORWARDED_FOR_WARNINGS) return;
    this.untrustedForwarders.add(address);
    this.options.logger.warn('connection.forwarded_for_ignored', {
      peer: address,
      note: 'X-Forwarded-For from an address not in TRUSTED_PROXIES is ignored: if this is your reverse proxy, add it to TRUSTED_PROXIES, or every phone behind it shares its per-address limits',
    });
  }

  private forget(connection: Connection): void {
    if (!this.connections.delete(connection)) return;
    this.connectionsPerIp.closed(addressGroup(connection.remoteAddress));
    this.options.logger.debug('connection.closed', { connection: connection.id, listId: connection.listId });
  }
}

/** How many of something are open per key; keys with none are not kept. */
class OpenCounts {
  private readonly counts = new Map<string, number>();

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  has(key: string): boolean {
    return this.counts.has(key);
  }

  opened(key: string): void {
    this.counts.set(key, this.get(key) + 1);
  }

  closed(key: string): void {
    const remaining = this.get(key) - 1;
    if (remaining <= 0) this.counts.delete(key);
    else this.counts.set(key, remaining);
  }
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  if (socket.writable) endSocket(socket, `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  else socket.destroy();
}

/**
 * How long a socket taken from the HTTP server (an upgrade request) may stay half-open once the
 * relay has ended its side. The server's request timeouts no longer cover it, and a peer that
 * never ends its own would hold it, and a shutdown waiting for the server to close, for good.
 */
const ENDED_SOCKET_LINGER_MS = 1000;

function endSocket(socket: Duplex, last?: string): void {
  socket.end(last);
  const cut = setTimeout(() => socket.destroy(), ENDED_SOCKET_LINGER_MS).unref();
  socket.once('close', () => clearTimeout(cut));
}

/**
 * `pathname` without the slashes it ends with ('/' stays). A loop, not /\/+$/: that regex is
 * quadratic on a run of slashes not at the end, and one request of 16,000 held the event loop
 * for a quarter of a second, as often as a client cared to send it ([W13]).
 */
function withoutTrailingSlashes(pathname: string): string {
  let end = pathname.length;
  while (end > 1 && pathname.charCodeAt(end - 1) === SLASH) end -= 1;
  return pathname.slice(0, end);
}

function respondNotFound(response: http.ServerResponse, text: string): void {
  response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
}

/** The status for a request Node could not read, as Node's own handler answers it: a URL too long is not a bad request. */
function clientErrorStatus(error: NodeJS.ErrnoException): string {
  if (error.code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

function isWebSocketUpgrade(request: http.IncomingMessage): boolean {
  return request.headers.upgrade?.trim().toLowerCase() === 'websocket';
}

/**
 * What the lists hand the decode worker besides large frames. Stored lists holding an update as
 * large as the frames it checks are readied by it, those updates cut into slices; so are lists
 * storing four times that in all. Sync answers larger than a part are cut into parts there, in
 * the turn of the asking phone's address, which their cuts share with its frames: each address's
 * frames and cuts wait behind each other, not other addresses' phones ([DW5]). Loads take a turn
 * of their own (LIST_LOADS_TURN).
 */
function offThreadWorkOf(decoder: OffThreadDecoder, minBytes: number): { storedUpdateSlicer: StoredUpdateSlicer; syncAnswerCutter: SyncAnswerCutter } {
  return {
    storedUpdateSlicer: { minBytes, estimateBytes: 4 * minBytes, cut: (updates) => decoder.cutStored(updates, minBytes) },
    syncAnswerCutter: {
      cut: (answer, maxPartBytes, requester) =>
        decoder.cutSyncAnswer(answer, maxPartBytes, requester instanceof Connection ? requester.addressGroup : undefined),
    },
  };
}
