// A minimal WebAssembly binary writer for tier 2 (wasm-tier.ts): one module
// importing one memory and a few functions, defining one exported function
// and a few mutable i64 globals.
//
// Contract: `Body` collects the instruction bytes of one function (opcodes
// from `W`, immediates through its LEB128 writers); `moduleBytes` wraps a
// body into a complete module (type, import, function, global, export and
// code sections) that `new WebAssembly.Module` accepts. Nothing here validates:
// a wrong body is a compile error of the module, which the caller treats as
// "not compilable" (the block stays in JavaScript).

/** Value types. */
export const I32 = 0x7f, I64 = 0x7e, F64 = 0x7c;

/** The opcodes tier 2 emits. */
export const enum W {
  unreachable = 0x00, block = 0x02, loop = 0x03, if = 0x04, else = 0x05, end = 0x0b, br = 0x0c, brIf = 0x0d,
  brTable = 0x0e, return = 0x0f, call = 0x10, drop = 0x1a, select = 0x1b,
  localGet = 0x20, localSet = 0x21, localTee = 0x22, globalGet = 0x23, globalSet = 0x24,
  i64Load = 0x29, i64Load8S = 0x30, i64Load8U = 0x31, i64Load16S = 0x32, i64Load16U = 0x33, i64Load32S = 0x34, i64Load32U = 0x35,
  f64Store = 0x39, i64Store = 0x37, i64Store8 = 0x3c, i64Store16 = 0x3d, i64Store32 = 0x3e,
  i32Const = 0x41, i64Const = 0x42, f64Const = 0x44,
  i32Eqz = 0x45, i32Eq = 0x46, i32Ne = 0x47, i32LtS = 0x48, i32LtU = 0x49, i32GtU = 0x4b, i32GeS = 0x4e, i32GeU = 0x4f,
  i64Eqz = 0x50, i64Eq = 0x51, i64Ne = 0x52, i64LtS = 0x53, i64LtU = 0x54, i64GtU = 0x56, i64GeS = 0x59, i64GeU = 0x5a,
  i32Add = 0x6a, i32Sub = 0x6b, i32Mul = 0x6c, i32DivS = 0x6d, i32DivU = 0x6e, i32RemS = 0x6f, i32RemU = 0x70,
  i32And = 0x71, i32Or = 0x72, i32Xor = 0x73, i32Shl = 0x74, i32ShrS = 0x75, i32ShrU = 0x76,
  i64Add = 0x7c, i64Sub = 0x7d, i64Mul = 0x7e, i64DivS = 0x7f, i64DivU = 0x80, i64RemS = 0x81, i64RemU = 0x82,
  i64And = 0x83, i64Or = 0x84, i64Xor = 0x85, i64Shl = 0x86, i64ShrS = 0x87, i64ShrU = 0x88,
  i32WrapI64 = 0xa7, i64ExtendI32S = 0xac, i64ExtendI32U = 0xad, f64ConvertI32U = 0xb8, f64ConvertI64S = 0xb9,
  // F/D (wasm-fp.ts).
  f64Load = 0x2b, f64Eq = 0x61, f64Ne = 0x62, f64Lt = 0x63, f64Gt = 0x64, f64Le = 0x65, f64Ge = 0x66,
  f64Abs = 0x99, f64Neg = 0x9a, f64Ceil = 0x9b, f64Floor = 0x9c, f64Trunc = 0x9d, f64Nearest = 0x9e, f64Sqrt = 0x9f,
  f64Add = 0xa0, f64Sub = 0xa1, f64Mul = 0xa2, f64Div = 0xa3, f64Min = 0xa4, f64Max = 0xa5,
  f32DemoteF64 = 0xb6, f64ConvertI32S = 0xb7, f64ConvertI64U = 0xba, f64PromoteF32 = 0xbb,
  i64TruncF64S = 0xb0, i64TruncF64U = 0xb1,
  // Tier 0 in WebAssembly (wasm-interp.ts).
  i32Load = 0x28, i32Store = 0x36, i32GtS = 0x4a, i32LeS = 0x4c, i32LeU = 0x4d, i64Extend32S = 0xc4,
  i32ReinterpretF32 = 0xbc, i64ReinterpretF64 = 0xbd, f32ReinterpretI32 = 0xbe, f64ReinterpretI64 = 0xbf,
}

/** The instruction bytes of one function body. */
export class Body {
  readonly bytes: number[] = [];
  /** Branch hints: [offset of an if or br_if in bytes, 1 likely taken / 0 unlikely]. */
  readonly hints: [number, number][] = [];
  /** Hint the branch emitted next (an if: its then-arm; a br_if: the branch) as likely (1) or unlikely (0). */
  hint(likely: number): this {
    this.hints.push([this.bytes.length, likely]);
    return this;
  }
  op(...ops: number[]): this {
    for (const o of ops) this.bytes.push(o);
    return this;
  }
  /** An unsigned LEB128 integer (0 ≤ v < 2^53). */
  u(v: number): this {
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.bytes.push(b);
    } while (v !== 0);
    return this;
  }
  /** A signed LEB128 integer (|v| < 2^53). */
  s(v: number): this {
    for (;;) {
      const b = ((v % 128) + 128) % 128;
      v = Math.floor(v / 128);
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.bytes.push(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  i32(v: number): this { return this.op(W.i32Const).s(v | 0); }
  i64(v: number): this { return this.op(W.i64Const).s(v); }
  f64(v: number): this {
    const d = new DataView(new ArrayBuffer(8));
    d.setFloat64(0, v, true);
    this.op(W.f64Const);
    for (let i = 0; i < 8; i++) this.bytes.push(d.getUint8(i));
    return this;
  }
  get(l: number): this { return this.op(W.localGet).u(l); }
  set(l: number): this { return this.op(W.localSet).u(l); }
  tee(l: number): this { return this.op(W.localTee).u(l); }
  gget(g: number): this { return this.op(W.globalGet).u(g); }
  gset(g: number): this { return this.op(W.globalSet).u(g); }
  /** A memory access with alignment hint 0 (any alignment) and offset 0. */
  mem(op: W): this { return this.op(op, 0, 0); }
  /** An aligned 8-byte access at constant offset `offset` from the address on the stack. */
  mem8(op: W, offset: number): this { return this.op(op, 3).u(offset); }
}

/** A function type: parameter and result value types. */
export interface FuncType {
  params: number[];
  results: number[];
}

export interface ModuleSpec {
  /** Pages of the imported shared memory "m"."m" (minimum = maximum). */
  memoryPages: number;
  /** Imported functions "f".name, in index order (function indices 0..n-1). */
  imports: { name: string; type: FuncType }[];
  /** The one defined function, exported as "run" (index = imports.length). */
  type: FuncType;
  /** Its locals after the parameters, by value type, in order. */
  locals: number[];
  /** Mutable i64 globals defined by the module (indices 0..n-1), each starting at 0. */
  globals?: number;
  body: Body;
  /** The function's name in a name section (V8 shows it in profiles and code dumps); none when absent. */
  name?: string;
  /** More functions, not exported, after it (indices imports.length + 1...), each with its own type, locals and body (no branch hints). */
  helpers?: { type: FuncType; locals: number[]; body: Body; name: string }[];
}

function vec(out: number[], items: number[][]): void {
  uleb(out, items.length);
  for (const it of items) append(out, it);
}

function uleb(out: number[], v: number): void {
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

function name(s: string): number[] {
  const out: number[] = [];
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
}

/** Append `from` to `out` (a loop: a body may hold more bytes than a call takes arguments). */
function append(out: number[], from: readonly number[]): void {
  for (let i = 0; i < from.length; i++) out.push(from[i]);
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  append(out, content);
}

function funcType(t: FuncType): number[] {
  const out = [0x60];
  vec(out, t.params.map((p) => [p]));
  vec(out, t.results.map((r) => [r]));
  return out;
}

/** One function's entry in the code section (size, locals as runs of one type, body, end), and how many bytes its locals take. */
function code(locals: number[], body: Body): { bytes: number[]; localsLength: number } {
  const runs: number[][] = [];
  for (const t of locals) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[1] === t) last[0]++;
    else runs.push([1, t]);
  }
  const fn: number[] = [];
  uleb(fn, runs.length);
  for (const [n, t] of runs) { uleb(fn, n); fn.push(t); }
  const localsLength = fn.length;
  append(fn, body.bytes);
  fn.push(W.end);
  const bytes: number[] = [];
  uleb(bytes, fn.length);
  append(bytes, fn);
  return { bytes, localsLength };
}

/** The bytes of the module `m` describes. */
export function moduleBytes(m: ModuleSpec): Uint8Array<ArrayBuffer> {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const helpers = m.helpers ?? [];
  const types = [...m.imports.map((i) => funcType(i.type)), funcType(m.type), ...helpers.map((h) => funcType(h.type))];
  const typeSec: number[] = [];
  vec(typeSec, types);
  section(out, 1, typeSec);
  const imports: number[][] = [];
  const mem = [...name('m'), ...name('m'), 0x02, 0x03];
  uleb(mem, m.memoryPages);
  uleb(mem, m.memoryPages);
  imports.push(mem);
  m.imports.forEach((imp, i) => {
    const e = [...name('f'), ...name(imp.name), 0x00];
    uleb(e, i);
    imports.push(e);
  });
  const importSec: number[] = [];
  vec(importSec, imports);
  section(out, 2, importSec);
  const fnSec: number[] = [];
  vec(fnSec, [0, ...helpers.map((_, i) => i + 1)].map((i) => { const t: number[] = []; uleb(t, m.imports.length + i); return t; }));
  section(out, 3, fnSec);
  if (m.globals) {
    const globalSec: number[] = [];
    vec(globalSec, new Array<number[]>(m.globals).fill([I64, 0x01, W.i64Const, 0, W.end]));
    section(out, 6, globalSec);
  }
  const exportSec: number[] = [];
  const ex = [...name('run'), 0x00];
  uleb(ex, m.imports.length);
  vec(exportSec, [ex]);
  section(out, 7, exportSec);
  const codes = [code(m.locals, m.body), ...helpers.map((h) => code(h.locals, h.body))];
  if (m.body.hints.length > 0) {
    // The branch-hint custom section (before the code section): offsets from the body's start (its locals included).
    const hs: number[] = [...name('metadata.code.branch_hint')];
    uleb(hs, 1);
    uleb(hs, m.imports.length);
    uleb(hs, m.body.hints.length);
    for (const [at, v] of m.body.hints) { uleb(hs, codes[0].localsLength + at); hs.push(1, v); }
    section(out, 0, hs);
  }
  const codeSec: number[] = [];
  vec(codeSec, codes.map((c) => c.bytes));
  section(out, 10, codeSec);
  if (m.name !== undefined) {
    // The name section (after the code section): subsection 1, the function names.
    const names: number[] = [];
    uleb(names, 1 + helpers.length);
    [m.name, ...helpers.map((h) => h.name)].forEach((fname, i) => {
      uleb(names, m.imports.length + i);
      append(names, name(fname));
    });
    const ns = [...name('name'), 1];
    uleb(ns, names.length);
    append(ns, names);
    section(out, 0, ns);
  }
  return new Uint8Array(out);
}
