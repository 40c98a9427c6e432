// lib/tasks.ts: a task run again when asked while it runs (the hub's reads, a
// subscription's delivery loop, the deliverer's scan, the primary's reload), and the
// purge schedule (audit trail and failed logins, change log). Pure: no database.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRerun, schedulePurge } from '../../lib/tasks.js';

const t = suite('tasks');

/** A task whose runs end when the test says so; counts them. */
function gatedTask() {
  const ends: Array<() => void> = [];
  let runs = 0;
  const task = () => new Promise<void>((resolve) => { runs++; ends.push(resolve); });
  return { task, runs: () => runs, endRun: async () => { ends.shift()!(); await sleep(0); } };
}

t('asked while it runs, it runs once more, however many asked; idle again after', async () => {
  const g = gatedTask();
  let idle = 0;
  const r = createRerun(g.task, { idle: () => { idle++; } });
  const first = r.request();
  assert.is(r.running, true);
  assert.is(g.runs(), 1);
  for (let i = 0; i < 5; i++) assert.is(r.request(), first, 'the run in progress');
  assert.is(g.runs(), 1, 'never two at once');
  await g.endRun();
  assert.is(g.runs(), 2, 'one more run for the five asks');
  await g.endRun();
  await first;
  assert.equal([g.runs(), r.running, idle], [2, false, 1]);
  const next = r.request();
  assert.is.not(next, first, 'a new run once idle');
  await g.endRun();
  await next;
  assert.equal([g.runs(), idle], [3, 2]);
});

t('a task may ask for itself while it runs (the deliverer refilling its slots)', async () => {
  let runs = 0;
  const r: ReturnType<typeof createRerun> = createRerun(async () => { runs++; if (runs === 1) void r.request(); });
  await r.request();
  assert.is(runs, 2);
});

t('stop: no run starts, and no rerun after the one in progress', async () => {
  const g = gatedTask();
  let stopped = false;
  const r = createRerun(g.task, { stop: () => stopped });
  const run = r.request();
  r.request();
  stopped = true;
  await g.endRun();
  await run;
  assert.is(g.runs(), 1, 'the asked rerun did not start');
  assert.is(r.request(), undefined);
  assert.is(r.running, false);
});

t('pause: awaited before a rerun, and asks meanwhile join that rerun', async () => {
  const g = gatedTask();
  let resume: () => void = () => undefined;
  const r = createRerun(g.task, { pause: () => new Promise<void>((resolve) => { resume = resolve; }) });
  const run = r.request();
  r.request();
  await g.endRun();
  assert.is(g.runs(), 1, 'waiting in the pause');
  r.request();
  r.request();
  resume();
  await sleep(0);
  assert.is(g.runs(), 2);
  await g.endRun();
  await run;
  assert.is(g.runs(), 2, 'the asks made during the pause were served by the rerun after it');
});

t('a task that throws ends the runs and rejects; the next ask starts afresh', async () => {
  let runs = 0;
  const r = createRerun(async () => { runs++; throw new Error('boom'); });
  await r.request()!.then(() => assert.unreachable('resolved'), (err: Error) => assert.is(err.message, 'boom'));
  assert.is(r.running, false);
  const sync = createRerun((() => { runs++; throw new Error('at once'); }) as () => Promise<void>);
  await sync.request()!.catch(() => undefined);
  assert.is(sync.running, false, 'a task throwing before its first await leaves nothing running');
  await r.request()!.catch(() => undefined);
  assert.is(runs, 3);
});

t('schedulePurge: after firstMs, then every everyMs, until stopped', async () => {
  let runs = 0;
  const stop = schedulePurge(async () => { runs++; }, 20, 50);
  await sleep(10);
  assert.is(runs, 0, 'not at once');
  await sleep(90);
  assert.ok(runs >= 2 && runs <= 3, `${runs} runs in 100 ms`);
  stop();
  const after = runs;
  await sleep(120);
  assert.is(runs, after, 'none after stop');
});

t.run();
