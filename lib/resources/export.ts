// GET /export?kinds=person,page,...: the federation as NDJSON (lib/bulk/export.ts),
// for root (ACL name `export`). Only the HTTP around it lives here, so the route is
// easy to re-wire; the read is audited like any read of health records. It may be
// served by the read standby (lib/db/reads.ts): one REPEATABLE READ snapshot either way.
import type { ResourceContext } from './context.js';
import type { Reply } from '../http/reply.js';
import { errors } from '../http/errors.js';
import { single } from './listing.js';
import { KindError, parseKinds } from '../bulk/kinds.js';
import { exportNdjson, ExportAborted } from '../bulk/export.js';

export function exportFederation(ctx: ResourceContext): Reply {
  let kinds;
  try {
    kinds = parseKinds(single(ctx.query.kinds));
  } catch (err) {
    if (err instanceof KindError) throw errors.badQuery(`kinds: ${err.message}`);
    throw err;
  }
  const { reads, head } = ctx;
  return {
    kind: 'stream',
    async write(res) {
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="federation-${new Date().toISOString().slice(0, 10)}.ndjson"`);
      if (head) { res.end(); return; }
      try {
        // From the read standby when one keeps up; again from the primary if it fails before the first line.
        await reads.run((pool) => exportNdjson(pool, res, { kinds }), (err) => !(err instanceof ExportAborted) && !res.headersSent);
      } catch (err) {
        // The client left: nothing to answer. A failure after the first byte ends the
        // response abruptly, so a truncated export is never taken for a complete one.
        if (err instanceof ExportAborted) return;
        if (res.headersSent) { res.destroy(); return; }
        res.removeHeader('Content-Disposition');
        throw err;
      }
      res.end();
    },
  };
}
