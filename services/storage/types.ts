/** One InfluxDB point as the service produces it. `timeMs` is epoch milliseconds. */
export interface Point {
  measurement: 'heartbeat' | 'telemetry' | 'device_event' | 'device_state' | 'daily';
  tags: { deviceId: string; kind: string; ward: string } & Record<string, string>;
  fields: Record<string, number | boolean | string>;
  timeMs: number;
  /**
   * Nanoseconds added to timeMs (0–999,999): a device's heartbeat `seq`, so two messages in one
   * millisecond stay two points and a redelivered one stays one (line-protocol.ts).
   */
  timeOffsetNs?: number;
}

/** The ingest side of storage: O(1), never blocks, never throws, never writes disk per call. */
export interface PointSink {
  write(point: Point): void;
}

/**
 * The durable side (issue #6): points handed over here are appended to the on-disk write-ahead
 * log; `done` runs once they are fsynced (group commit, every few ms), or with an error when they
 * could not be stored. The broker sends PUBACK for a QoS 1 message only from `done`.
 */
export interface DurablePointSink extends PointSink {
  writeDurable(points: readonly Point[], done: (err: Error | null) => void): void;
}

export interface StorageHealth {
  influx: 'up' | 'down';
  /** Points on disk not yet in InfluxDB. */
  spooledPoints: number;
  /** Points accepted but not yet fsynced (waiting for the next group commit). */
  bufferedPoints: number;
  /** Bytes of the on-disk log (bounded by influx.spool.maxBytes). */
  spoolBytes: number;
  /** Age of the oldest point not yet in InfluxDB (ms); 0 when nothing waits. */
  lagMs: number;
  /** The spool hit maxBytes and is dropping telemetry (storage_backlog_overflow is open). */
  overflowing: boolean;
  /** Issue #13: the write-ahead log's last commit failed; nothing is acknowledged until one succeeds. */
  spoolWriteFailing?: boolean;
}

/** One InfluxDB write request, for metrics (latency histogram). */
export interface InfluxWriteEvent {
  durationMs: number;
  points: number;
  outcome: 'ok' | 'down' | 'rejected';
}

export interface TelemetryQuery {
  deviceId: string;
  field: string;
  fromMs: number;
  toMs: number;
  /** Aggregation window in seconds (mean); null = raw points. */
  everyS: number | null;
}

export interface TelemetryReader {
  /** Throws WwError WW_ERR_STORAGE_INFLUX_DOWN when InfluxDB cannot be reached. */
  queryTelemetry(q: TelemetryQuery): Promise<Array<{ timeMs: number; value: number | boolean | null }>>;
}
