import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { SharedPayloads } from './shared-payloads.ts';

// aedes-persistence and qlobber are aedes' own dependencies (the copies aedes uses when given no
// persistence). Both are CommonJS: aedes-persistence's types declare an ESM default export that
// NodeNext does not map onto `module.exports`, and qlobber has no types; hence require.
const require = createRequire(import.meta.url);
const memory = require('aedes-persistence') as typeof import('aedes-persistence').default;
const { QlobberTrue } = require('qlobber') as {
  QlobberTrue: new (opts: {
    wildcard_one: string;
    wildcard_some: string;
    separator: string;
  }) => {
    add(pattern: string): void;
    test(topic: string): boolean;
  };
};
/** The matcher options of aedes-persistence's in-memory store (asyncPersistence.js). */
const QLOBBER_OPTIONS = { wildcard_one: '+', wildcard_some: '#', separator: '/' };

interface RetainedPacket {
  topic: string;
  payload: Buffer | string;
}

interface TopicNode {
  /** Its topic level (its key in the parent). */
  level: string;
  /**
   * Issue #15: none on a leaf (every device's `…/status`), the child itself when there is one
   * (a device's own level), a Map from two on: a Map is ~200 bytes per device.
   */
  children: Map<string, TopicNode> | TopicNode | null;
  packet: RetainedPacket | undefined;
}

const newNode = (level: string): TopicNode => ({ level, children: null, packet: undefined });

function childOf(node: TopicNode, level: string): TopicNode | undefined {
  const c = node.children;
  if (c === null) return undefined;
  if (c instanceof Map) return c.get(level);
  return c.level === level ? c : undefined;
}

function addChild(node: TopicNode, child: TopicNode): void {
  const c = node.children;
  if (c === null) node.children = child;
  else if (c instanceof Map) c.set(child.level, child);
  else
    node.children = new Map([
      [c.level, c],
      [child.level, child],
    ]);
}

function removeChild(node: TopicNode, level: string): void {
  const c = node.children;
  if (c === null) return;
  if (!(c instanceof Map)) {
    if (c.level === level) node.children = null;
    return;
  }
  c.delete(level);
  if (c.size === 1) node.children = c.values().next().value as TopicNode;
  else if (c.size === 0) node.children = null;
}

function childrenOf(node: TopicNode): Iterable<TopicNode> {
  const c = node.children;
  if (c === null) return [];
  return c instanceof Map ? c.values() : [c];
}

/**
 * Retained messages in a trie of topic levels. A pattern's literal levels are looked up, `+`
 * fans out over one level and `#` takes the whole subtree, so `wardwatch/v1/devices/<id>/cmd/#`
 * only visits that device's few topics instead of every retained message.
 *
 * The walk only narrows the candidates (a superset of the matches); the final verdict is the same
 * qlobber test aedes-persistence uses, so retained semantics (e.g. `+` does not match an empty
 * level, `a/#` matches `a`) are the stock ones by construction.
 */
export class RetainedIndex {
  readonly #root = newNode('');
  #size = 0;

  /** Issue #15: short payloads (every device's `online`) shared, not pinning their socket reads. */
  constructor(private readonly payloads = new SharedPayloads()) {}

  get size(): number {
    return this.#size;
  }

  /** Nodes of the trie, the root included (issue #15: what deleted topics leave behind). */
  nodeCount(): number {
    let count = 0;
    const stack = [this.#root];
    for (let n = stack.pop(); n; n = stack.pop()) {
      count++;
      for (const child of childrenOf(n)) stack.push(child);
    }
    return count;
  }

  /** As aedes-persistence: an empty payload deletes the topic's retained message [MQTT-3.3.1-10]. */
  store(pkt: RetainedPacket): void {
    const levels = pkt.topic.split('/');
    if (pkt.payload.length === 0) {
      this.#delete(levels);
      return;
    }
    let node = this.#root;
    for (const level of levels) {
      let child = childOf(node, level);
      if (!child) {
        child = newNode(level);
        addChild(node, child);
      }
      node = child;
    }
    if (!node.packet) this.#size++;
    // A copy, as the stock store keeps: aedes reuses and mutates packet objects.
    node.packet = { ...pkt, payload: this.payloads.share(pkt.payload) };
  }

  #delete(levels: string[]): void {
    const path = [this.#root];
    for (const level of levels) {
      const child = childOf(path[path.length - 1]!, level);
      if (!child) return;
      path.push(child);
    }
    const leaf = path[path.length - 1]!;
    if (!leaf.packet) return;
    leaf.packet = undefined;
    this.#size--;
    // Prune empty branches so deleted devices leave nothing behind.
    for (let i = levels.length; i > 0; i--) {
      const node = path[i]!;
      if (node.packet || node.children !== null) break;
      removeChild(path[i - 1]!, levels[i - 1]!);
    }
  }

  /** Retained messages matching `pattern` (iterative: no recursion on deep topics). */
  match(pattern: string): RetainedPacket[] {
    const matcher = new QlobberTrue(QLOBBER_OPTIONS);
    matcher.add(pattern);
    const levels = pattern.split('/');
    const out: RetainedPacket[] = [];
    const stack: Array<[TopicNode, number]> = [[this.#root, 0]];
    for (let top = stack.pop(); top; top = stack.pop()) {
      const [node, i] = top;
      const level = levels[i];
      if (level === undefined) {
        if (node.packet && matcher.test(node.packet.topic)) out.push(node.packet);
      } else if (level === '#') {
        const subtree = [node];
        for (let n = subtree.pop(); n; n = subtree.pop()) {
          if (n.packet && matcher.test(n.packet.topic)) out.push(n.packet);
          for (const child of childrenOf(n)) subtree.push(child);
        }
      } else if (level === '+') {
        for (const child of childrenOf(node)) stack.push([child, i + 1]);
      } else {
        const child = childOf(node, level);
        if (child) stack.push([child, i + 1]);
      }
    }
    return out;
  }
}

function* matchAll(index: RetainedIndex, patterns: string[]): Generator<RetainedPacket> {
  // Per pattern, like the stock store (a topic matching two patterns is yielded twice). Matching
  // runs when the stream is first read, so a bad pattern errors the stream as the stock one does.
  for (const pattern of patterns) yield* index.match(pattern);
}

/**
 * aedes' default in-memory persistence with an indexed retained-message lookup (issue #6).
 *
 * The stock store (aedes-persistence 11, `retainedMessagesByPattern`) tests every retained
 * message against the pattern on each SUBSCRIBE: every device retains its `…/status`, so a
 * reconnect storm of N devices each subscribing to its own `cmd/#` costs N² tests (4,000
 * devices: 22.7 s instead of 4.7 s, bench/results/aedes-concurrency.md). Only the three retained
 * methods are replaced; sessions, wills, subscriptions and QoS queues are the stock code.
 * aedes 1.2 calls the persistence's promise API (no callbacks).
 */
export function createRetainedIndexPersistence() {
  const persistence = memory();
  const payloads = new SharedPayloads();
  const index = new RetainedIndex(payloads);
  // The callback API (its type) when given a callback, the promise API aedes 1.2 calls otherwise.
  const putWill = persistence.putWill.bind(persistence) as (
    client: unknown,
    packet: { payload?: unknown },
    cb?: unknown,
  ) => unknown;
  // Issue #15 (reconnect storm): aedes drains every CONNECTing client's queue of QoS 1/2 packets
  // (lib/handlers/connect.js emptyQueue, `for await`); the stock outgoingStream wraps a
  // Readable.from of a copy of the queue in a second Readable.from, so each CONNECT built two
  // streams, their async iterators and end-of-stream listeners, almost always for an empty queue.
  // Packets enter a queue only through outgoingEnqueue(Combi) (outgoingUpdate replaces one in
  // place), so a client id never enqueued to has an empty queue: it gets an empty list (iterable
  // like the stream, by `for await` and by stream.pipeline). A client id enqueued to once keeps the
  // stock stream (ids are never forgotten: at most one entry per device ever sent a command).
  const mayHaveQueue = new Set<string>();
  const outgoingEnqueue = persistence.outgoingEnqueue.bind(persistence) as (
    sub: { clientId: string },
    packet: unknown,
    cb?: unknown,
  ) => unknown;
  const outgoingEnqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence) as (
    subs: Array<{ clientId: string }>,
    packet: unknown,
    cb?: unknown,
  ) => unknown;
  const outgoingStream = persistence.outgoingStream.bind(persistence) as unknown as (client: {
    id: string;
  }) => AsyncIterable<unknown> | Iterable<unknown>;
  return Object.assign(persistence, {
    outgoingEnqueue: (sub: { clientId: string }, packet: unknown, cb?: unknown) => {
      mayHaveQueue.add(sub.clientId);
      return outgoingEnqueue(sub, packet, cb);
    },
    outgoingEnqueueCombi: (subs: Array<{ clientId: string }>, packet: unknown, cb?: unknown) => {
      for (const sub of subs) mayHaveQueue.add(sub.clientId);
      return outgoingEnqueueCombi(subs, packet, cb);
    },
    outgoingStream: (client: { id: string }) => (mayHaveQueue.has(client.id) ? outgoingStream(client) : []),
    /**
     * Issue #15: the will aedes stores is the packet it also holds as `client.will`, its payload a
     * view into the CONNECT's socket read (~350 bytes per device kept for `offline`): the same
     * bytes from the shared table let that read go.
     */
    putWill: (client: unknown, packet: { payload?: unknown }, cb?: unknown) => {
      if (packet.payload !== undefined) packet.payload = payloads.share(packet.payload);
      return putWill(client, packet, cb);
    },
    retainedCount: () => index.size,
    storeRetained: async (packet: RetainedPacket) => index.store(packet),
    createRetainedStream: (pattern: string) => Readable.from(matchAll(index, [pattern])),
    createRetainedStreamCombi: (patterns: string[]) => Readable.from(matchAll(index, patterns)),
  });
}
