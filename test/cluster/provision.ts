import { waitFor } from '../helpers/app.ts';
import type { FleetDevice } from './fleet.ts';
import type { Cluster, ClusterNode } from './harness.ts';

/** A POST /api/v1/devices body. */
export interface DeviceRow {
  id: string;
  kind: 'camera' | 'light' | 'gateway';
  ward: string;
  name: string;
  lat: number;
  lon: number;
  powerZone?: string;
  heartbeatIntervalS?: number;
}

interface ImportAnswer {
  created: number;
  results: Array<{ id: string | null; status: string; secret?: string; error?: { error: string } }>;
}

/**
 * Registers the devices on the cluster (issue #14) with one bulk import per node and returns each
 * device's secret per node. While every node has its own registry (SQLite), every node creates
 * every device, with its own secret. Once devices live in PostgreSQL (the pgstores lane), the
 * first node's import creates them and the others answer every row with a conflict: then the
 * first node's secrets are every node's, and each node is waited for until its in-memory registry
 * knows the last device (a write on another node reaches it through Redis).
 */
export async function registerDevices(cluster: Cluster, rows: readonly DeviceRow[]): Promise<FleetDevice[]> {
  const importOn = async (node: ClusterNode) => {
    const res = await node.api<ImportAnswer>('POST', '/api/v1/devices/import', rows);
    if (res.status !== 200)
      throw new Error(`${node.nodeId}: import ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const secretsOf = (answer: ImportAnswer) =>
    new Map(answer.results.map((r) => [r.id as string, r.secret as string]));
  const [first, ...others] = cluster.nodes as ClusterNode[];
  if (!first) throw new Error('no node');
  const firstAnswer = await importOn(first);
  if (firstAnswer.created !== rows.length) {
    throw new Error(`${first.nodeId}: import created ${firstAnswer.created} of ${rows.length}`);
  }
  const firstSecrets = secretsOf(firstAnswer);
  const last = rows.at(-1)?.id as string;
  const bySecretsOfNode = await Promise.all(
    others.map(async (node) => {
      const answer = await importOn(node);
      if (answer.created === rows.length) return secretsOf(answer); // its own registry
      const shared =
        answer.created === 0 && answer.results.every((r) => r.error?.error === 'WW_ERR_API_CONFLICT');
      if (!shared) throw new Error(`${node.nodeId}: import ${JSON.stringify(answer).slice(0, 500)}`);
      await waitFor(
        async () => (await node.api('GET', `/api/v1/devices/${last}`)).status === 200,
        `${node.nodeId} knowing the devices registered on ${first.nodeId}`,
      );
      return firstSecrets;
    }),
  );
  const secretMaps = [firstSecrets, ...bySecretsOfNode];
  return rows.map((r) => ({ id: r.id, secrets: secretMaps.map((m) => m.get(r.id) as string) }));
}
