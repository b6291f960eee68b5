/** One InfluxDB point as the service produces it. `timeMs` is epoch milliseconds. */
export interface Point {
  measurement: 'heartbeat' | 'telemetry' | 'device_event' | 'device_state' | 'daily';
  tags: { deviceId: string; kind: string; ward: string } & Record<string, string>;
  fields: Record<string, number | boolean | string>;
  timeMs: number;
}

/** The ingest side of storage: O(1), never blocks, never throws, never writes disk per call. */
export interface PointSink {
  write(point: Point): void;
}

export interface StorageHealth {
  influx: 'up' | 'down';
  spooledPoints: number;
  bufferedPoints: number;
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
