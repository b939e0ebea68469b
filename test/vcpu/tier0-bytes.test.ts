// The tier-0 module's bytes made by the build (src/vcpu/tier0-bytes.ts,
// tier0-build.ts): the file the build wrote holds exactly what the generator
// makes now, and a file that is not current (a generator module changed or
// gone, another memory size, a truncated or foreign file) is never used.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readTier0Bytes, TIER0_BYTES_FILE, writeTier0Bytes } from '../../src/vcpu/tier0-bytes.js';
import { buildTier0Bytes, moduleClosure } from '../../src/vcpu/tier0-build.js';
import { wasmInterpModule } from '../../src/vcpu/wasm-interp.js';
import { GUEST_VA_LIMIT } from '../../src/vcpu/memory.js';

const PAGES = GUEST_VA_LIMIT / 65536;

describe('vcpu: tier 0 module bytes made by the build', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-tier0-bytes-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Two stand-in generator modules and a file keyed by them, in the test's folder. */
  function madeFile(bytes: Uint8Array): { file: string; sources: string[] } {
    const sources = ['gen.js', 'sub/helper.js'].map((f) => path.join(dir, f));
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(sources[0], 'exports.a = 1;\n');
    fs.writeFileSync(sources[1], 'exports.b = 2;\n');
    const file = path.join(dir, 'tier0-module.bin');
    writeTier0Bytes(file, bytes, PAGES, sources);
    return { file, sources };
  }

  it('the build wrote the bytes the generator makes now', function () {
    this.timeout(60_000);
    const shipped = readTier0Bytes(TIER0_BYTES_FILE, PAGES);
    assert.ok(shipped, `${TIER0_BYTES_FILE} is missing or not current: npm run build writes it`);
    assert.deepEqual(Buffer.from(shipped), Buffer.from(wasmInterpModule(PAGES)));
    // The key covers the generator and what it imports (the encoder, the F/D emitters, the record layout).
    const header = JSON.parse(fs.readFileSync(TIER0_BYTES_FILE, 'latin1').split('\n')[0]) as { files: string[] };
    for (const f of ['wasm-interp.js', 'wasm-encode.js', 'wasm-interp-fp.js', 'wasm-fp.js', 'ops.js', 'memory.js']) assert.ok(header.files.includes(f), f);
    assert.ok(WebAssembly.validate(shipped));
  });

  /** How many times tier0Module() of the compiled vcpu folder `vcpu` ran the generator, in a process of its own. */
  function generatorRuns(vcpu: string): number {
    const script = `const g = require(${JSON.stringify(path.join(vcpu, 'wasm-interp.js'))}); let made = 0; const make = g.wasmInterpModule;
      g.wasmInterpModule = (p) => { made++; return make(p); };
      const m = require(${JSON.stringify(path.join(vcpu, 'interp-wasm.js'))}).tier0Module();
      if (!(m instanceof WebAssembly.Module) || !WebAssembly.Module.exports(m).some((e) => e.name === 'run')) throw new Error('no module');
      console.log(made);`;
    return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim());
  }

  it('tier0Module compiles the build\'s bytes, and makes its own when the file is stale', function () {
    this.timeout(120_000);
    assert.equal(generatorRuns(path.dirname(TIER0_BYTES_FILE)), 0);
    // A copy of the compiled tree (its modules only: what interp-wasm.js loads lies in src/ and Node's own).
    const src = path.join(dir, 'src'), vcpu = path.join(src, 'vcpu');
    fs.cpSync(path.dirname(path.dirname(TIER0_BYTES_FILE)), src, { recursive: true, filter: (f) => !/\.(map|ts)$/.test(f) });
    assert.equal(generatorRuns(vcpu), 0, 'a copy of the tree');
    fs.appendFileSync(path.join(vcpu, 'wasm-alu.js'), '\n// edited\n');
    assert.equal(generatorRuns(vcpu), 1, 'a generator module edited after the build');
  });

  it('a current file gives its bytes back', () => {
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 10, 13]);
    const { file } = madeFile(bytes);
    assert.deepEqual(readTier0Bytes(file, PAGES), bytes);
  });

  it('is stale, and not used, when a generator module changed, even at the same size', () => {
    const { file, sources } = madeFile(new Uint8Array([1, 2, 3]));
    fs.writeFileSync(sources[1], 'exports.b = 3;\n');
    assert.equal(readTier0Bytes(file, PAGES), null);
    fs.writeFileSync(sources[1], 'exports.b = 2;\n');
    assert.deepEqual(readTier0Bytes(file, PAGES), new Uint8Array([1, 2, 3]));
  });

  it('is not used when a generator module is gone, for another memory size, or when the file is cut or foreign', () => {
    const { file, sources } = madeFile(new Uint8Array([1, 2, 3, 4]));
    assert.equal(readTier0Bytes(file, PAGES / 2), null);
    const whole = fs.readFileSync(file);
    fs.writeFileSync(file, whole.subarray(0, whole.length - 1));
    assert.equal(readTier0Bytes(file, PAGES), null);
    fs.writeFileSync(file, Buffer.concat([whole, Buffer.from([5])]));
    assert.equal(readTier0Bytes(file, PAGES), null);
    for (const junk of ['', 'no newline', '{"v":1}\n', 'null\n\0asm', '{"v":1,"pages":1,"files":[],"digest":"","length":0}\n']) {
      fs.writeFileSync(file, junk);
      assert.equal(readTier0Bytes(file, PAGES), null, JSON.stringify(junk));
    }
    fs.writeFileSync(file, whole);
    fs.rmSync(sources[0]);
    assert.equal(readTier0Bytes(file, PAGES), null);
    assert.equal(readTier0Bytes(path.join(dir, 'absent.bin'), PAGES), null);
  });

  it('the build step keys the file by the generator\'s module graph; a copy of the tree stays current until edited', function () {
    this.timeout(60_000);
    const closure = moduleClosure(require.resolve('../../src/vcpu/wasm-interp.js'), path.join(__dirname, '..', '..', 'src'));
    const names = closure.map((f) => path.basename(f));
    assert.ok(names.includes('wasm-interp.js') && names.includes('wasm-encode.js') && names.includes('codegen.js'), names.join(' '));
    assert.ok(!names.includes('cpu.js'), 'cpu.js is not the generator\'s');
    // A copy of the compiled folder (CI runs the suite from a copy another user owns): current there, by content.
    const vcpu = path.join(dir, 'vcpu');
    fs.cpSync(path.dirname(TIER0_BYTES_FILE), vcpu, { recursive: true });
    const copy = path.join(vcpu, 'tier0-module.bin');
    assert.deepEqual(readTier0Bytes(copy, PAGES), readTier0Bytes(TIER0_BYTES_FILE, PAGES));
    fs.appendFileSync(path.join(vcpu, 'wasm-encode.js'), '\n// edited\n');
    assert.equal(readTier0Bytes(copy, PAGES), null, 'an edited generator module');
    // The build's function writes a current file again.
    const n = buildTier0Bytes(path.join(dir, 'rebuilt.bin'));
    assert.equal(n, wasmInterpModule(PAGES).length);
    assert.deepEqual(readTier0Bytes(path.join(dir, 'rebuilt.bin'), PAGES), wasmInterpModule(PAGES));
  });
});
