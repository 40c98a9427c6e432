// The layers of lib/ (DESIGN §1, issue 11): no module imports from a layer above it.
// lib/http knows nothing of authentication, resources or pages; resources nothing of
// pages; the audit nothing of authentication; lib/db nothing above the database; the
// kind registry (lib/kinds) nothing of the layers that use it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../lib/config.js';

const t = suite('layers');

const ABOVE: Record<string, string[]> = {
  http: ['auth', 'resources', 'pages', 'audit', 'changes', 'subscriptions', 'bulk', 'admin', 'kinds'],
  db: ['http', 'auth', 'resources', 'pages', 'audit', 'changes', 'subscriptions', 'bulk', 'admin', 'kinds'],
  // The kind registry and the record rules: a domain below every user of a kind (only http/params' id rules beneath it).
  kinds: ['db', 'auth', 'resources', 'pages', 'audit', 'changes', 'subscriptions', 'bulk', 'admin'],
  resources: ['pages'],
  audit: ['auth', 'resources', 'pages'],
};

/** The lib/ folders the module `text`, in lib/`dir`, imports from (its relative imports, `import type` included). */
function importedLayers(text: string, dir: string): string[] {
  const layers = new Set<string>();
  for (const m of text.matchAll(/\bfrom\s+'(\.\.?\/[^']+)'|\bimport\(\s*'(\.\.?\/[^']+)'\s*\)/g)) {
    const spec = m[1] ?? m[2]!;
    const parts = join('lib', dir, spec).split('/');
    if (parts[0] === 'lib' && parts.length > 2) layers.add(parts[1]!);
  }
  return [...layers];
}

/** The modules of lib/`dir` and of its subfolders (lib/db/listing is lib/db's), as paths under lib/. */
function modulesOf(dir: string): string[] {
  return readdirSync(join(ROOT, 'lib', dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modulesOf(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

t('no module of lib/ imports from a layer above its own', () => {
  const wrong: string[] = [];
  let checked = 0;
  for (const [layer, above] of Object.entries(ABOVE)) {
    for (const path of modulesOf(layer)) {
      checked++;
      const used = importedLayers(readFileSync(join(ROOT, 'lib', path), 'utf8'), join(path, '..'));
      for (const l of used.filter((u) => above.includes(u))) wrong.push(`lib/${path} imports lib/${l}`);
    }
  }
  assert.ok(checked > 30, `${checked} modules checked`);
  assert.ok(modulesOf('db').includes('db/listing/batches.ts'), 'the subfolders of a layer are checked');
  assert.equal(wrong, []);
});

/**
 * The modules directly in lib/ that lib/`dir` imports (`config` for '../config.js'):
 * importedLayers sees folders only, so a lower layer reaching up to the composing
 * modules (config, app, routes, services) would pass it unseen.
 */
function importedTopModules(text: string, dir: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/\bfrom\s+'(\.\.?\/[^']+)'|\bimport\(\s*'(\.\.?\/[^']+)'\s*\)/g)) {
    const parts = join('lib', dir, m[1] ?? m[2]!).split('/');
    if (parts[0] === 'lib' && parts.length === 2) out.add(parts[1]!.replace(/\.js$/, ''));
  }
  return [...out];
}

/** The modules directly in lib/ that import nothing of lib/ (or only each other): any layer may use them. */
const LEAVES = ['root', 'log', 'net', 'acl-names'];

t('lib/db and lib/http import no module directly in lib/ but its leaves (lib/root.ts, not lib/config.ts)', () => {
  const wrong: string[] = [];
  for (const layer of ['db', 'http']) {
    for (const name of readdirSync(join(ROOT, 'lib', layer)).filter((f) => f.endsWith('.ts'))) {
      const used = importedTopModules(readFileSync(join(ROOT, 'lib', layer, name), 'utf8'), layer);
      for (const m of used.filter((u) => !LEAVES.includes(u))) wrong.push(`lib/${layer}/${name} imports lib/${m}.ts`);
    }
  }
  assert.equal(wrong, []);
  for (const leaf of LEAVES) {
    const text = readFileSync(join(ROOT, 'lib', `${leaf}.ts`), 'utf8');
    assert.equal(importedLayers(text, '.'), [], `lib/${leaf}.ts imports no folder of lib/`);
    assert.equal(importedTopModules(text, '.').filter((m) => !LEAVES.includes(m)), [], `lib/${leaf}.ts imports no other module of lib/`);
  }
  assert.equal(importedTopModules(`import { ROOT } from '../config.js';`, 'db'), ['config'], 'the reading sees it');
});

t('the reading finds each form of import', () => {
  const text = `import type { Principal } from '../auth/authenticate.js';\nimport { x } from './bytes.js';\nexport { y } from '../pages/csrf.js';\nconst z = await import('../resources/records.js');`;
  assert.equal(importedLayers(text, 'http').sort(), ['auth', 'http', 'pages', 'resources']);
  // lib/app.ts composes every layer.
  const app = importedLayers(readFileSync(join(ROOT, 'lib', 'app.ts'), 'utf8'), '.');
  for (const l of ['auth', 'http', 'pages', 'resources', 'db']) assert.ok(app.includes(l), l);
});

t.run();
