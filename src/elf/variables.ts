// Setting global variables in a spec before load (libbpf's skeleton `rodata->x = ...`):
// writes into the data map's initial value, checked against the variable's size.
import { UsageError } from '../errors.js';
import type { ObjectSpec } from './spec.js';

/**
 * Writes `value` into variable `name` of `spec` (little-endian for numbers). Numbers and
 * bigints must fit the variable's size; byte arrays must have exactly its size.
 */
export function setVariable(spec: ObjectSpec, name: string, value: number | bigint | boolean | Uint8Array): void {
  const v = spec.variables.get(name);
  if (!v) throw new UsageError(`no global variable '${name}' in object '${spec.name}'; variables: ${[...spec.variables.keys()].join(', ') || 'none'}`);
  const map = spec.maps.get(v.map);
  const data = map?.data;
  if (!data) throw new UsageError(`variable '${name}': its map '${v.map}' has no initial value to write`);
  if (value instanceof Uint8Array) {
    if (value.byteLength !== v.size) throw new UsageError(`variable '${name}' is ${v.size} bytes; got ${value.byteLength}`);
    data.set(value, v.offset);
    return;
  }
  const big = typeof value === 'bigint' ? value : BigInt(typeof value === 'boolean' ? Number(value) : value);
  if (typeof value === 'number' && !Number.isInteger(value)) throw new UsageError(`variable '${name}': ${value} is not an integer`);
  if (v.size < 1 || v.size > 8) throw new UsageError(`variable '${name}' is ${v.size} bytes: set it with a Uint8Array`);
  const bits = BigInt(v.size * 8);
  if (big < -(1n << (bits - 1n)) || big >= 1n << bits) throw new UsageError(`variable '${name}' (${v.size} bytes) cannot hold ${value}`);
  let u = BigInt.asUintN(Number(bits), big);
  for (let i = 0; i < v.size; i++) {
    data[v.offset + i] = Number(u & 0xffn);
    u >>= 8n;
  }
}

/** Reads variable `name`'s current initial value (a copy). */
export function getVariable(spec: ObjectSpec, name: string): Uint8Array {
  const v = spec.variables.get(name);
  const data = v ? spec.maps.get(v.map)?.data : undefined;
  if (!v || !data) throw new UsageError(`no global variable '${name}' with an initial value in object '${spec.name}'`);
  return data.slice(v.offset, v.offset + v.size);
}
