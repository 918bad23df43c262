/**
 * The object-graph codec of saved states: any graph of engine objects (class instances, plain
 * objects, arrays, Maps, Sets, typed arrays, extent maps, bigints) to JSON and back, with identity
 * kept — an object reached along two paths (a MemoryObject behind a VMA and behind a pin, a
 * FileHandle behind two fds) is one node, referenced twice.
 *
 * Terms:
 *   node     one object of the graph, numbered in breadth-first order from the root (so equal
 *            graphs give equal documents).
 *   value    JSON scalar (string, boolean, null, finite number) or a tag object:
 *            {"$r": n} node n · {"$a": "name"} anchor · {"$b": "0x…"} bigint · {"$u": 1} undefined
 *            · {"$n": "NaN" | "Infinity" | "-Infinity" | "-0"}.
 *   anchor   an object or function that is not saved but named: it exists in every system built for
 *            the same host (the kernel, its device models, the subsystems' wiring closures, the host
 *            data). Loading resolves the name in a freshly built system. An anchor may carry an
 *            *overlay* — the saved values of some of its fields, written into the fresh object in
 *            place, so closures that captured it see the restored state.
 *
 * Class instances are saved by their own fields (no constructor runs on load: the prototype is set
 * and the fields assigned in saved order) — except a *packed* class (`Packable`: columnar storage
 * such as type1's dma table), saved as the value its `pack()` returns and rebuilt by `unpack()` on
 * an instance its no-argument constructor makes. Only classes listed in the registry may appear; any
 * other object with a prototype, and any function that is not an anchor, refuses the save with its
 * path.
 */

import { ExtentMap, type Extent } from "../core/extent-map.js";
import { StateError } from "./errors.js";

// ---- JSON shapes ----

export type Scalar = string | boolean | null | number;
export type Tag =
  | { readonly $r: number }
  | { readonly $a: string }
  | { readonly $b: string }
  | { readonly $u: 1 }
  | { readonly $n: "NaN" | "Infinity" | "-Infinity" | "-0" };
export type Value = Scalar | Tag;

export type NodeJson =
  | { readonly k: "object"; readonly c: string | null; readonly f: Readonly<Record<string, Value>> }
  | { readonly k: "array"; readonly v: readonly Value[] }
  | { readonly k: "map"; readonly v: readonly (readonly [Value, Value])[] }
  | { readonly k: "set"; readonly v: readonly Value[] }
  | { readonly k: "bytes"; readonly c: TypedArrayName; readonly b: string }
  | { readonly k: "packed"; readonly c: string; readonly v: Value }
  | {
      readonly k: "extents";
      readonly leafSize: number | null;
      readonly v: readonly (readonly [Value, Value, Value])[];
    };

/** An anchor's saved fields (objects) or contents (arrays). */
export type OverlayJson = { readonly f: Readonly<Record<string, Value>> } | { readonly v: readonly Value[] };

export interface GraphJson {
  readonly root: Value;
  readonly nodes: readonly NodeJson[];
  readonly overlays: Readonly<Record<string, OverlayJson>>;
}

// ---- anchors and classes ----

/** How an anchored object's own state is saved: not at all, some fields, or its array contents. */
export type Overlay =
  | { readonly kind: "none" }
  | { readonly kind: "fields"; readonly fields: readonly string[] }
  | { readonly kind: "array" };

export interface Anchor {
  readonly name: string;
  readonly value: object;
  readonly overlay: Overlay;
}

const TYPED_ARRAYS = {
  Uint8Array,
  Uint16Array,
  Uint32Array,
  Int32Array,
  Float64Array,
  BigUint64Array,
} as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;
type AnyTypedArray = InstanceType<(typeof TYPED_ARRAYS)[TypedArrayName]>;

function typedArrayName(v: object): TypedArrayName | undefined {
  for (const [name, ctor] of Object.entries(TYPED_ARRAYS))
    if (Object.getPrototypeOf(v) === ctor.prototype) return name as TypedArrayName;
  return undefined;
}

/**
 * A class saved by a logical form instead of its fields: `pack()` returns a value of the graph
 * (arrays, bigints, references...); `unpack(v)` refills a fresh instance (made with no arguments)
 * once every object `v` refers to is complete, throwing on a malformed `v`.
 */
export interface Packable {
  pack(): unknown;
  unpack(v: unknown): void;
}

function isPackable(o: object): o is Packable {
  const p = o as Partial<Packable>;
  return typeof p.pack === "function" && typeof p.unpack === "function";
}

/** Class name → constructor; the names are the format's, not `constructor.name`. */
export type ClassRegistry = ReadonlyMap<string, abstract new (...args: never[]) => object>;

/** Read a private field by name (extent maps keep their leaf size private). */
function field(o: object, name: string): unknown {
  return (o as Record<string, unknown>)[name];
}

// ---- encode ----

export interface EncodeOptions {
  readonly anchors: readonly Anchor[];
  readonly classes: ClassRegistry;
}

export function encodeGraph(root: unknown, opts: EncodeOptions): GraphJson {
  const anchorOf = new Map<unknown, string>();
  for (const a of opts.anchors) if (!anchorOf.has(a.value)) anchorOf.set(a.value, a.name);
  const classOf = new Map<object, string>();
  for (const [name, ctor] of opts.classes) classOf.set(ctor.prototype as object, name);

  const ids = new Map<object, number>();
  const queue: { obj: object; path: string }[] = [];
  const nodes: NodeJson[] = [];

  const value = (v: unknown, path: string): Value => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return v;
      case "undefined":
        return { $u: 1 };
      case "bigint":
        return { $b: (v < 0n ? "-0x" : "0x") + (v < 0n ? -v : v).toString(16) };
      case "number":
        if (Number.isNaN(v)) return { $n: "NaN" };
        if (v === Infinity) return { $n: "Infinity" };
        if (v === -Infinity) return { $n: "-Infinity" };
        if (Object.is(v, -0)) return { $n: "-0" };
        return v;
      case "function": {
        const a = anchorOf.get(v);
        if (a === undefined)
          throw new StateError(`cannot save: function at ${path} is not part of the system's wiring`);
        return { $a: a };
      }
      case "symbol":
        throw new StateError(`cannot save: symbol at ${path}`);
      case "object": {
        if (v === null) return null;
        const a = anchorOf.get(v);
        if (a !== undefined) return { $a: a };
        let id = ids.get(v);
        if (id === undefined) {
          id = ids.size;
          ids.set(v, id);
          queue.push({ obj: v, path });
        }
        return { $r: id };
      }
    }
  };

  const fields = (o: object, names: readonly string[], path: string): Record<string, Value> => {
    const f: Record<string, Value> = {};
    for (const k of names) f[k] = value(field(o, k), `${path}.${k}`);
    return f;
  };

  const ownFields = (o: object, path: string): string[] => {
    const names: string[] = [];
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(o))) {
      if (d.get || d.set) throw new StateError(`cannot save: accessor property at ${path}.${k}`);
      names.push(k);
    }
    if (Object.getOwnPropertySymbols(o).length > 0)
      throw new StateError(`cannot save: symbol-keyed property at ${path}`);
    return names;
  };

  const node = (o: object, path: string): NodeJson => {
    if (Array.isArray(o)) {
      const v: Value[] = [];
      for (let i = 0; i < o.length; i++) v.push(value(o[i], `${path}[${i}]`));
      return { k: "array", v };
    }
    if (o instanceof Map) {
      const v: [Value, Value][] = [];
      let i = 0;
      for (const [k, x] of o) {
        v.push([value(k, `${path}<key ${i}>`), value(x, `${path}<${i}>`)]);
        i++;
      }
      return { k: "map", v };
    }
    if (o instanceof Set) return { k: "set", v: [...o].map((x, i) => value(x, `${path}{${i}}`)) };
    if (o instanceof ExtentMap) {
      const leafSize = field(o, "leafSize");
      return {
        k: "extents",
        leafSize: typeof leafSize === "number" ? leafSize : null,
        v: (o as ExtentMap<unknown>).values().map((e) => {
          const p = `${path}[0x${e.start.toString(16)}]`;
          return [value(e.start, p), value(e.last, p), value(e.value, p)] as const;
        }),
      };
    }
    if (ArrayBuffer.isView(o)) {
      const c = typedArrayName(o);
      if (!c) throw new StateError(`cannot save: unsupported binary view at ${path}`);
      const bytes = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
      return { k: "bytes", c, b: Buffer.from(bytes).toString("base64") };
    }
    const proto = Object.getPrototypeOf(o) as object | null;
    let c: string | null;
    if (proto !== Object.prototype && proto !== null && isPackable(o)) {
      const name = classOf.get(proto);
      if (name === undefined)
        throw new StateError(
          `cannot save: an instance of ${o.constructor.name} at ${path} (not a class of the state format)`,
        );
      return { k: "packed", c: name, v: value(o.pack(), `${path}<packed>`) };
    }
    if (proto === Object.prototype) c = null;
    else {
      const name = proto ? classOf.get(proto) : undefined;
      if (name === undefined) {
        const what = proto === null ? "a null-prototype object" : `an instance of ${o.constructor.name}`;
        throw new StateError(`cannot save: ${what} at ${path} (not a class of the state format)`);
      }
      c = name;
    }
    return { k: "object", c, f: fields(o, ownFields(o, path), path) };
  };

  const rootValue = value(root, "$");
  const overlays: Record<string, OverlayJson> = {};
  for (const a of opts.anchors) {
    const o = a.overlay;
    if (o.kind === "fields") overlays[a.name] = { f: fields(a.value, o.fields, a.name) };
    else if (o.kind === "array") {
      const arr = a.value as unknown[];
      overlays[a.name] = { v: arr.map((x, i) => value(x, `${a.name}[${i}]`)) };
    }
  }
  // Breadth-first: nodes are numbered in the order they were first referenced.
  for (let i = 0; i < queue.length; i++) nodes.push(node(queue[i]!.obj, queue[i]!.path));
  return { root: rootValue, nodes, overlays };
}

// ---- validate and decode ----

const TAGS = new Set(["$r", "$a", "$b", "$u", "$n"]);
const NUMBER_TAGS = new Set(["NaN", "Infinity", "-Infinity", "-0"]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks a whole graph document before anything is built; throws `StateError` with a JSON path. */
export function validateGraph(
  g: unknown,
  opts: { readonly classes: ClassRegistry; readonly anchors: ReadonlyMap<string, Anchor> },
): GraphJson {
  const bad = (path: string, why: string): never => {
    throw new StateError(`${path}: ${why}`);
  };
  if (!isRecord(g)) bad("graph", "expected an object");
  const gr = g as Record<string, unknown>;
  for (const k of Object.keys(gr))
    if (!["root", "nodes", "overlays"].includes(k)) bad("graph", `unknown key "${k}"`);
  const nodes = gr["nodes"];
  if (!Array.isArray(nodes)) bad("graph.nodes", "expected an array");
  const n = (nodes as unknown[]).length;
  const refs = new Uint8Array(n);

  const checkValue = (v: unknown, path: string): void => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) bad(path, "non-finite number");
      return;
    }
    if (!isRecord(v)) return bad(path, "expected a scalar or a tag object");
    const keys = Object.keys(v);
    if (keys.length !== 1 || !TAGS.has(keys[0]!)) return bad(path, `not a value tag: ${JSON.stringify(v)}`);
    const x = v[keys[0]!];
    switch (keys[0]) {
      case "$r":
        if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x >= n)
          bad(path, `reference ${JSON.stringify(x)} outside 0..${n - 1}`);
        refs[x as number] = 1;
        return;
      case "$a":
        if (typeof x !== "string" || !opts.anchors.has(x))
          bad(path, `unknown anchor ${JSON.stringify(x)} (saved for another host or kernel?)`);
        return;
      case "$b":
        if (typeof x !== "string" || !/^-?0x[0-9a-f]+$/.test(x)) bad(path, "bad bigint");
        return;
      case "$u":
        if (x !== 1) bad(path, "bad undefined tag");
        return;
      case "$n":
        if (typeof x !== "string" || !NUMBER_TAGS.has(x)) bad(path, "bad number tag");
        return;
    }
  };
  const checkFields = (f: unknown, path: string): void => {
    if (!isRecord(f)) return bad(path, "expected an object of fields");
    for (const [k, v] of Object.entries(f)) checkValue(v, `${path}.${k}`);
  };
  const checkList = (v: unknown, path: string, arity = 1): void => {
    if (!Array.isArray(v)) return bad(path, "expected an array");
    v.forEach((x: unknown, i) => {
      if (arity === 1) return checkValue(x, `${path}[${i}]`);
      if (!Array.isArray(x) || x.length !== arity) return bad(`${path}[${i}]`, `expected ${arity} values`);
      x.forEach((y: unknown, j) => checkValue(y, `${path}[${i}][${j}]`));
    });
  };
  const exactKeys = (o: Record<string, unknown>, keys: readonly string[], path: string): void => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) bad(path, `unknown key "${k}"`);
    for (const k of keys) if (!(k in o)) bad(path, `missing key "${k}"`);
  };

  (nodes as unknown[]).forEach((nd, i) => {
    const path = `graph.nodes[${i}]`;
    if (!isRecord(nd)) return bad(path, "expected an object");
    switch (nd["k"]) {
      case "object":
        exactKeys(nd, ["k", "c", "f"], path);
        if (nd["c"] !== null && (typeof nd["c"] !== "string" || !opts.classes.has(nd["c"])))
          bad(`${path}.c`, `unknown class ${JSON.stringify(nd["c"])}`);
        return checkFields(nd["f"], `${path}.f`);
      case "array":
      case "set":
        exactKeys(nd, ["k", "v"], path);
        return checkList(nd["v"], `${path}.v`);
      case "map":
        exactKeys(nd, ["k", "v"], path);
        return checkList(nd["v"], `${path}.v`, 2);
      case "packed":
        exactKeys(nd, ["k", "c", "v"], path);
        if (typeof nd["c"] !== "string" || !opts.classes.has(nd["c"]))
          bad(`${path}.c`, `unknown class ${JSON.stringify(nd["c"])}`);
        else if (!isPackable(opts.classes.get(nd["c"])!.prototype as object))
          bad(`${path}.c`, `class ${nd["c"]} is not saved packed`);
        return checkValue(nd["v"], `${path}.v`);
      case "extents":
        exactKeys(nd, ["k", "leafSize", "v"], path);
        if (nd["leafSize"] !== null && (!Number.isInteger(nd["leafSize"]) || (nd["leafSize"] as number) < 1))
          bad(`${path}.leafSize`, "expected a positive integer or null");
        return checkList(nd["v"], `${path}.v`, 3);
      case "bytes": {
        exactKeys(nd, ["k", "c", "b"], path);
        const c = nd["c"];
        if (typeof c !== "string" || !(c in TYPED_ARRAYS)) bad(`${path}.c`, "unknown binary type");
        const b = nd["b"];
        if (typeof b !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(b) || b.length % 4 !== 0)
          bad(`${path}.b`, "not base64");
        const size = TYPED_ARRAYS[c as TypedArrayName].BYTES_PER_ELEMENT;
        if (Buffer.from(b as string, "base64").length % size !== 0)
          bad(`${path}.b`, `length is not a multiple of ${size}`);
        return;
      }
      default:
        return bad(`${path}.k`, `unknown node kind ${JSON.stringify(nd["k"])}`);
    }
  });
  checkValue(gr["root"], "graph.root");
  const overlays = gr["overlays"];
  if (!isRecord(overlays)) return bad("graph.overlays", "expected an object");
  for (const [name, o] of Object.entries(overlays)) {
    const path = `graph.overlays.${name}`;
    const a = opts.anchors.get(name);
    if (!a || a.overlay.kind === "none") bad(path, "no such anchor with saved state");
    if (!isRecord(o)) return bad(path, "expected an object");
    if (a!.overlay.kind === "array") {
      exactKeys(o, ["v"], path);
      checkList(o["v"], `${path}.v`);
    } else if (a!.overlay.kind === "fields") {
      exactKeys(o, ["f"], path);
      checkFields(o["f"], `${path}.f`);
      exactKeys(o["f"] as Record<string, unknown>, a!.overlay.fields, `${path}.f`);
    }
  }
  for (const a of opts.anchors.values())
    if (a.overlay.kind !== "none" && !(a.name in overlays)) bad("graph.overlays", `missing "${a.name}"`);
  const orphan = refs.indexOf(0);
  if (orphan >= 0) bad(`graph.nodes[${orphan}]`, "never referenced");
  return g as unknown as GraphJson;
}

/**
 * Build the objects of a validated graph: shells first (so cycles resolve), then contents, then the
 * anchors' overlays. Writes only into the given anchors (a fresh system) and new objects.
 */
export function decodeGraph(
  g: GraphJson,
  opts: { readonly classes: ClassRegistry; readonly anchors: ReadonlyMap<string, Anchor> },
): unknown {
  const shells: object[] = g.nodes.map((nd) => {
    switch (nd.k) {
      case "object": {
        const proto = nd.c === null ? Object.prototype : (opts.classes.get(nd.c)!.prototype as object);
        return Object.create(proto) as object;
      }
      case "array":
        return [];
      case "map":
        return new Map();
      case "set":
        return new Set();
      case "packed":
        return new (opts.classes.get(nd.c)! as unknown as new () => object)();
      case "extents":
        return new ExtentMap(nd.leafSize !== null ? { leafSize: nd.leafSize } : {});
      case "bytes": {
        const bytes = Buffer.from(nd.b, "base64");
        const ctor = TYPED_ARRAYS[nd.c];
        const copy = new Uint8Array(bytes.length);
        copy.set(bytes);
        return new ctor(copy.buffer, 0, bytes.length / ctor.BYTES_PER_ELEMENT);
      }
    }
  });
  const value = (v: Value): unknown => {
    if (v === null || typeof v !== "object") return v;
    if ("$r" in v) return shells[v.$r];
    if ("$a" in v) return opts.anchors.get(v.$a)!.value;
    if ("$b" in v) return v.$b.startsWith("-") ? -BigInt(v.$b.slice(1)) : BigInt(v.$b);
    if ("$u" in v) return undefined;
    return v.$n === "-0" ? -0 : Number(v.$n);
  };
  g.nodes.forEach((nd, i) => {
    const o = shells[i]!;
    switch (nd.k) {
      case "object":
        for (const [k, v] of Object.entries(nd.f))
          Object.defineProperty(o, k, {
            value: value(v),
            writable: true,
            enumerable: true,
            configurable: true,
          });
        return;
      case "array":
        for (const v of nd.v) (o as unknown[]).push(value(v));
        return;
      case "map":
        for (const [k, v] of nd.v) (o as Map<unknown, unknown>).set(value(k), value(v));
        return;
      case "set":
        for (const v of nd.v) (o as Set<unknown>).add(value(v));
        return;
      case "packed":
      case "extents":
        return; // filled below, once every record has its fields
      case "bytes":
        return;
    }
  });
  // Packed objects once every object they refer to is complete.
  g.nodes.forEach((nd, i) => {
    if (nd.k !== "packed") return;
    try {
      (shells[i] as Packable).unpack(value(nd.v));
    } catch (e) {
      throw new StateError(`graph.nodes[${i}]: ${nd.c}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  // Extent maps last: a record that is its own extent (its start/last are fields) must be complete
  // before it is placed.
  g.nodes.forEach((nd, i) => {
    if (nd.k !== "extents") return;
    const o = shells[i]!;
    for (const [s, l, v] of nd.v) {
      const start = value(s);
      const last = value(l);
      if (typeof start !== "bigint" || typeof last !== "bigint" || start > last)
        throw new StateError(`graph.nodes[${i}]: extent bounds must be bigints with start ≤ last`);
      const val = value(v);
      try {
        const map = o as ExtentMap<unknown>;
        // A record that is its own extent (a vfio_dma, a domain translation) goes back in
        // itself, as the engine put it there: removal is by identity.
        if (isOwnExtent(val, start, last)) {
          if (!map.insertExtent(val)) throw new StateError("overlap");
        } else map.insert(start, last, val);
      } catch {
        throw new StateError(`graph.nodes[${i}]: overlapping extents`);
      }
    }
  });
  for (const [name, ov] of Object.entries(g.overlays)) {
    const a = opts.anchors.get(name)!;
    if ("v" in ov) {
      const arr = a.value as unknown[];
      arr.splice(0, arr.length, ...ov.v.map(value));
    } else for (const [k, v] of Object.entries(ov.f)) (a.value as Record<string, unknown>)[k] = value(v);
  }
  return value(g.root);
}

/** The typed arrays the format knows (for tests). */
export function isSupportedBinary(v: object): v is AnyTypedArray {
  return typedArrayName(v) !== undefined;
}

/** Is `v` an object that is its own extent entry over [start, last] (`v.value === v`)? */
function isOwnExtent(v: unknown, start: bigint, last: bigint): v is Extent<unknown> {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Partial<Extent<unknown>>;
  return e.value === v && e.start === start && e.last === last;
}
