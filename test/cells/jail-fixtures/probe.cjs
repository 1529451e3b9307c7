// Test entry for the jail attack tests ("the first wall has fallen"): reads JavaScript from stdin, runs it
// as the body of an async function with `require` in scope, and prints {ok, value} or {ok:false, error}
// as one JSON line. Plain CommonJS so that it needs no build and no package.json.
'use strict';
let src = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (src += d));
process.stdin.on('end', async () => {
  let out;
  try {
    const fn = new Function('require', `return (async () => { ${src} })();`);
    out = { ok: true, value: await fn(require) };
  } catch (e) {
    out = { ok: false, error: String(e && e.code ? e.code + ': ' + e.message : e) };
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
});
