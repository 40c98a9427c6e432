// One POST of a batch to a subscription's URL: signed, bounded in time, redirects not
// followed, the answer's body discarded. Any 2xx acknowledges the batch; anything else
// (another status, a refused connection, a timeout) is a failure named by its cause.
import { sign, SIGNATURE_HEADER } from './signature.js';

export type PostOutcome = { ok: true; status: number } | { ok: false; error: string; status?: number };

export async function postBatch(url: string, secret: string, id: number, body: string, timeoutMs: number, stop: AbortSignal): Promise<PostOutcome> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      body,
      redirect: 'manual',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'Thalamus (GNU Health Federation)',
        'X-Thalamus-Subscription': String(id),
        [SIGNATURE_HEADER]: sign(secret, body),
      },
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]),
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status >= 200 && res.status < 300 ? { ok: true, status: res.status } : { ok: false, status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    if (e.name === 'TimeoutError') return { ok: false, error: `no answer within ${timeoutMs} ms` };
    if (e.name === 'AbortError') return { ok: false, error: 'aborted (worker stopping)' };
    return { ok: false, error: e.cause?.code ?? e.cause?.message ?? e.message ?? 'request failed' };
  }
}
