/**
 * Runs asynchronous jobs in arrival order with at most `concurrency` in flight (the registry's
 * scrypt rehashes, issue #13 item 4). A job that rejects is the job's business: it is expected
 * to catch and log its own errors; the queue only moves on.
 */
export function createJobQueue(concurrency: number): {
  push(job: () => Promise<void>): void;
  /** Jobs queued or running (issue #15: the rehash backlog a benchmark waits for). */
  size(): number;
} {
  const queue: Array<() => Promise<void>> = [];
  let head = 0;
  let running = 0;
  const run = () => {
    while (running < concurrency && head < queue.length) {
      const job = queue[head++] as () => Promise<void>;
      // Drained: drop the finished jobs (an import queues thousands).
      if (head === queue.length) {
        queue.length = 0;
        head = 0;
      }
      running++;
      void job()
        .catch(() => undefined)
        .finally(() => {
          running--;
          run();
        });
    }
  };
  return {
    push(job) {
      queue.push(job);
      run();
    },
    size: () => queue.length - head + running,
  };
}
