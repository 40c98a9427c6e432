// Messages between the primary and its workers over the cluster's IPC channel.
import type { Snapshot } from '../lib/metrics.js';

/** Worker -> primary: its metrics so far (periodically, on request, and when it exits). */
export interface MetricsMessage { type: 'thalamus:metrics'; snapshot: Snapshot }
/** Primary -> worker: send your metrics now. */
export interface SnapshotRequest { type: 'thalamus:snapshot' }
/** Primary -> worker: stop accepting, finish in-flight requests within graceMs, exit 0. */
export interface DrainRequest { type: 'thalamus:drain'; graceMs: number }
/** Primary -> worker: prove your pool gives a connection that answers within timeoutMs (/readyz). */
export interface ProbeRequest { type: 'thalamus:probe'; id: number; timeoutMs: number }
/** Worker -> primary: the answer to probe `id`; `error` says why the pool failed it. */
export interface ProbeResult { type: 'thalamus:probed'; id: number; error?: string }

/** A worker that could not start says why before it exits (one line for the operator, not a stack per worker). */
export interface StartFailed { type: 'thalamus:start-failed'; reason: string }

export type ToWorker = SnapshotRequest | DrainRequest | ProbeRequest;

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
