// Readiness for systemd (Type=notify): Node has no unix datagram sockets, so the state is
// sent by `systemd-notify`, which waits until systemd has read it (NotifyAccess=all in
// the unit lets a child of the main process speak for it).
import { execFile } from 'node:child_process';
import type { Logger } from '../lib/log.js';

/** Sends `READY=1`, `STOPPING=1`, `STATUS=...` to systemd when it supervises us. */
export function sdNotify(log: Logger, ...states: string[]): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', states, { env: process.env, timeout: 10_000 }, (err) => {
    if (err) log.warn(`systemd-notify ${states.join(' ')} failed: ${err.message}`);
  });
}
