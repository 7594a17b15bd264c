// A program's name by id, for tables (it may vanish while we look: then '').
import { BpfProgram } from '../../index.js';

const cache = new Map<number, string>();

export function programNameOf(id: number): string {
  if (!id) return '';
  let name = cache.get(id);
  if (name === undefined) {
    try {
      const p = BpfProgram.fromId(id);
      name = p.name;
      p.close();
    } catch {
      name = '';
    }
    cache.set(id, name);
  }
  return name;
}
