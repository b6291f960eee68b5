import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The gateway's backlog while the broker is unreachable (issue #5): a bounded FIFO kept on disk
 * as JSON lines, so a gateway restart during an outage loses nothing. Pushes append one line
 * (O(1)); when full the oldest message is dropped (counted). The file is rewritten only when it
 * holds twice the bound or after a drain, so the cost stays amortised O(1) per message.
 */
export interface QueuedMessage {
  topic: string;
  payload: string;
}

export interface DiskQueue {
  push(m: QueuedMessage): void;
  peek(): QueuedMessage | undefined;
  shift(): void;
  size(): number;
  dropped(): number;
}

export function createDiskQueue(file: string, maxMessages: number): DiskQueue {
  mkdirSync(dirname(file), { recursive: true });
  let items: QueuedMessage[] = [];
  let dropped = 0;
  let fileLines = 0;
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        const m = JSON.parse(line) as QueuedMessage;
        if (typeof m.topic === 'string' && typeof m.payload === 'string') items.push(m);
      } catch {
        // a torn last line after a crash: skip it
      }
    }
    if (items.length > maxMessages) {
      dropped += items.length - maxMessages;
      items = items.slice(-maxMessages);
    }
  }
  const rewrite = () => {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, items.map((m) => `${JSON.stringify(m)}\n`).join(''));
    renameSync(tmp, file);
    fileLines = items.length;
  };
  rewrite();
  let head = 0; // items before `head` are sent but still in the file until the next rewrite

  return {
    push(m) {
      items.push(m);
      appendFileSync(file, `${JSON.stringify(m)}\n`);
      fileLines++;
      if (items.length - head > maxMessages) {
        head++;
        dropped++;
      }
      if (fileLines > 2 * maxMessages) {
        items = items.slice(head);
        head = 0;
        rewrite();
      }
    },
    peek: () => items[head],
    shift() {
      if (head < items.length) head++;
      if (head === items.length) {
        items = [];
        head = 0;
        rewrite();
      }
    },
    size: () => items.length - head,
    dropped: () => dropped,
  };
}
