// The stores' runtime config: [key-value-store.NAME] tables in isola.toml or a runtime config file, one-line errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { tempDir } from '../engine/wat.js';
import { loadStoreSettings, serverStoreSettings, storeSettingsOf } from '../../src/capabilities/keyvalue/config.js';
import { KvStores } from '../../src/capabilities/keyvalue/host/stores.js';
import { parseManifest } from '../../src/orchestrator/manifest.js';

const settings = (toml: string) => storeSettingsOf(parse(toml) as Record<string, unknown>, 'isola.toml', '/base');
const refused = (toml: string, message: RegExp) => assert.throws(() => settings(toml), (e: Error) => {
  assert.match(e.message, message);
  assert.ok(!e.message.includes('\n'), 'one line');
  return true;
});

test('each type with its keys; Spin\'s spelling and type "spin"; relative paths resolve against the file', () => {
  const s = settings(`
[key-value-store.cache]
type = "redis"
url = "redis://127.0.0.1:6379/2"
max-value-bytes = "64KiB"
[key-value-store.events]
type = "nats"
url = "nats://127.0.0.1:4222"
quota = "10MiB"
[key-value-store.local]
path = "data/kv"
max-key-bytes = 100
`);
  assert.deepEqual(s.get('cache'), { config: { type: 'redis', url: 'redis://127.0.0.1:6379/2' }, limits: { maxKeyBytes: 256, maxValueBytes: 65536 } });
  assert.deepEqual(s.get('events')!.config, { type: 'nats', url: 'nats://127.0.0.1:4222', bucket: 'events', quotaBytes: 10 * 1024 * 1024 });
  assert.deepEqual(s.get('local'), { config: { type: 'embedded', path: '/base/data/kv', quotaBytes: 1024 ** 3 }, limits: { maxKeyBytes: 100, maxValueBytes: 1024 * 1024 } });
  assert.equal(settings('[key_value_store.default]\ntype = "spin"\npath = "x"').get('default')!.config.type, 'embedded');
});

test('bad tables are one line naming the file, the store and the key', () => {
  refused('[key-value-store.c]\ntype = "mongo"', /^isola\.toml: key-value-store\.c\.type: expected "embedded", "redis" or "nats", got "mongo"$/);
  refused('[key-value-store.c]\ntype = "redis"', /key-value-store\.c\.url: expected a redis:\/\/ URL \(missing\)/);
  refused('[key-value-store.c]\ntype = "redis"\nurl = "http://x"', /key-value-store\.c\.url: expected a URL with scheme redis or rediss, got "http"/);
  refused('[key-value-store.c]\ntype = "redis"\nurl = "not a url"', /key-value-store\.c\.url: expected a redis:\/\/ URL, got "not a url"/);
  refused('[key-value-store.c]\ntype = "nats"\nurl = "nats://x:4222"\nbucket = "a.b"', /key-value-store\.c\.bucket: expected a bucket name/);
  refused('[key-value-store.c]\ntype = "redis"\nurl = "redis://x"\npath = "p"', /key-value-store\.c\.path: unknown key for a redis store \(expected type, url, max-key-bytes, max-value-bytes\)/);
  refused('[key-value-store.c]\nquota = "lots"', /key-value-store\.c\.quota: expected a size/);
  refused('[key-value-store.c]\nmax-key-bytes = 5000', /max-key-bytes: expected at most 1024 bytes/);
  refused('[key-value-store."bad name"]\ntype = "embedded"', /key-value-store\.bad name: expected a store name/);
  refused('[key-value-store]\nc = 1', /key-value-store\.c: expected a table, got 1/);
  refused('[key-value-store.a]\n[key_value_store.b]', /both \[key-value-store\] and \[key_value_store\] are given/);
});

test('isola.toml takes store tables beside functions; a runtime config holds only store tables, and may not repeat one', () => {
  const dir = tempDir('isola-kv-config-');
  try {
    assert.equal(parseManifest('[key-value-store.c]\ntype = "embedded"\n', 'isola.toml').length, 0);
    writeFileSync(join(dir, 'isola.toml'), '[key-value-store.a]\npath = "a"\n');
    writeFileSync(join(dir, 'runtime.toml'), '[key_value_store.b]\ntype = "redis"\nurl = "redis://127.0.0.1:1"\n');
    const both = serverStoreSettings(join(dir, 'isola.toml'), join(dir, 'runtime.toml'));
    assert.deepEqual([...both.keys()], ['a', 'b']);
    assert.equal((both.get('a')!.config as { path: string }).path, join(dir, 'a'));
    writeFileSync(join(dir, 'dup.toml'), '[key-value-store.a]\ntype = "embedded"\n');
    assert.throws(() => serverStoreSettings(join(dir, 'isola.toml'), join(dir, 'dup.toml')), /dup\.toml: key-value-store\.a: also configured in isola\.toml/);
    writeFileSync(join(dir, 'fn.toml'), '[function.x]\nroute = "/x"\n');
    assert.throws(() => loadStoreSettings(join(dir, 'fn.toml'), true), /fn\.toml: function: unknown key \(expected only \[key-value-store\.NAME\] tables\)/);
    writeFileSync(join(dir, 'broken.toml'), '[key-value-store.a\n');
    assert.throws(() => loadStoreSettings(join(dir, 'broken.toml')), /^Error: broken\.toml: line 1, column \d+: invalid TOML|broken\.toml: line 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a configured store that cannot open is an error naming it; an unconfigured name is embedded under the data dir', async () => {
  const dir = tempDir('isola-kv-stores-');
  const stores = new KvStores({ dataDir: dir, settings: settings('[key-value-store.cache]\ntype = "redis"\nurl = "redis://127.0.0.1:1"') });
  try {
    await assert.rejects(stores.openConfigured(), (e: Error) => {
      assert.match(e.message, /^key-value store "cache": redis at redis:\/\/127\.0\.0\.1:1 is unreachable/);
      return true;
    });
    assert.deepEqual(stores.settings('other').config, { type: 'embedded', path: join(dir, 'kv', 'other'), quotaBytes: 1024 ** 3 });
    const b = await stores.backend('other');
    await b.set('k', new Uint8Array([1]));
    assert.deepEqual([...(await b.get('k'))!], [1]);
  } finally {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
