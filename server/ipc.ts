// Messages between the primary and its workers over the cluster's IPC channel.
import type { Snapshot } from '../lib/metrics.js';

/** Worker -> primary: its metrics so far (periodically, on request, and when it exits). */
export interface MetricsMessage { type: 'thalamus:metrics'; snapshot: Snapshot }
/** Primary -> worker: send your metrics now. */
export interface SnapshotRequest { type: 'thalamus:snapshot' }
/** Primary -> worker: stop accepting, finish in-flight requests within graceMs, exit 0. */
export interface DrainRequest { type: 'thalamus:drain'; graceMs: number }

export type ToWorker = SnapshotRequest | DrainRequest;

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
