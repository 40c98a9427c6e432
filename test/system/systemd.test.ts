// systemd/thalamus.service: `systemd-analyze verify` accepts it, and it says what the
// runtime relies on (readiness, reload, a stop timeout above the drain, hardening).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { suiteNeeding, TOOLS } from '../helpers/tools.js';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, loadConfig } from '../../lib/config.js';

const UNIT = join(ROOT, 'systemd', 'thalamus.service');
const t = suite('systemd unit');
const text = readFileSync(UNIT, 'utf8');
const settings = new Map<string, string[]>();
for (const line of text.split('\n')) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line);
  if (m) settings.set(m[1]!, [...(settings.get(m[1]!) ?? []), m[2]!]);
}
const one = (key: string) => settings.get(key)?.at(-1);

const verify = suiteNeeding('systemd unit: systemd-analyze', [TOOLS.systemdAnalyze]);
verify('systemd-analyze verify accepts it', async () => {
  const out = await new Promise<{ code: number; text: string }>((resolve) => {
    execFile(TOOLS.systemdAnalyze.path!, ['verify', UNIT], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr });
    });
  });
  assert.is(out.text.trim(), '', out.text);
  assert.is(out.code, 0);
});
verify.run();

t('readiness, reload, restart and stop settings', () => {
  assert.is(one('Type'), 'notify');
  assert.is(one('NotifyAccess'), 'all');
  assert.is(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.is(one('Restart'), 'on-failure');
  assert.is(one('KillMode'), 'mixed');
  // Required (no leading "-"): a missing environment file stops the start (issue 20).
  assert.is(one('EnvironmentFile'), '/etc/thalamus/thalamus.env');
  assert.ok(settings.get('Environment')!.includes('NODE_ENV=production'), 'a production start: never the embedded database');
  assert.match(one('ExecStart')!, /dist\/server\/main\.js$/);
  const drainSeconds = loadConfig(undefined, {}).shutdownTimeout / 1000;
  assert.ok(Number(one('TimeoutStopSec')) > drainSeconds + 5, 'TimeoutStopSec leaves room for the drain');
  assert.is(one('User'), 'thalamus');
});

t('hardening', () => {
  for (const [key, value] of Object.entries({
    NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', CapabilityBoundingSet: '',
    ReadWritePaths: '/var/lib/thalamus', PrivateDevices: 'yes', RestrictSUIDSGID: 'yes', ProtectKernelTunables: 'yes',
  })) assert.is(one(key), value, key);
  assert.ok(settings.get('Environment')!.includes('THALAMUS_DATA_DIR=/var/lib/thalamus'), 'the data dir is the writable one');
});

t.run();
