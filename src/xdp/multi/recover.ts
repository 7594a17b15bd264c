// Finishing or undoing the change of a tsbpf process that died (SIGKILL, power loss) in the
// middle of it. A change is recorded on disk before anything is swapped, in a directory
// `tsbpf-txn-<ifindex>-<new>-<old>` next to the dispatcher directories (protocol.ts):
//
//   replace old → new: mkdir txn; pin new's links and programs in it; swap on the hook
//                      (compare-and-exchange); unpin old's directory; rename txn → dispatch-…-new
//   remove old:        mkdir txn (new = 0, empty); detach old (compare-and-exchange); unpin
//                      old's directory; rmdir txn
//
// Every change runs under the protocol's lock from its first read to its last rename, so a
// txn directory that someone holding the lock can see belongs to a process that died. What
// the hook holds now says how far it got: the new dispatcher (or nothing, for a removal) means
// the swap happened, and the rest is done here; anything else means it did not, and the
// txn directory, with the pins that kept the never-attached dispatcher alive, is removed. Either
// way the result is the state before the change or the state after it, with no pin left over.
//
// libxdp never sees the intermediate states while the dying process lived (it reads pins under
// the same lock); after a crash and before the next tsbpf call on that interface, it may find
// the new dispatcher without its `dispatch-` directory, which it treats as a single program
// and refuses to change, not as something to overwrite.
import { readdirSync, renameSync } from 'node:fs';
import { attachedId } from './state.js';
import { dispatcherDirName, parseTxnDirName } from './protocol.js';
import { exists, removePinDir } from './bpffs.js';

/** What recovery did, per txn directory found (for tests and verbose output). */
export interface Recovered {
  dir: string;
  outcome: 'rolled-forward' | 'rolled-back';
}

/** Completes or undoes every dead change on `ifindex`. The caller holds the lock. */
export function recover(stateDir: string, ifindex: number): Recovered[] {
  const out: Recovered[] = [];
  let names: string[];
  try {
    names = readdirSync(stateDir);
  } catch {
    return out;
  }
  // Other interfaces' records are left alone: an ifindex names a device only in one network
  // namespace, and only the caller's namespace can be asked what its hook holds.
  const mine = names.map((n) => ({ n, t: parseTxnDirName(n) })).filter((x) => x.t?.ifindex === ifindex);
  if (mine.length === 0) return out;
  const now = attachedId(ifindex);
  for (const { n, t } of mine) {
    const { newId, oldId } = t!;
    const txn = `${stateDir}/${n}`;
    const oldDir = `${stateDir}/${dispatcherDirName(ifindex, oldId)}`;
    const swapped = newId !== 0 ? now === newId : now !== oldId;
    if (swapped && newId !== 0) {
      const finalDir = `${stateDir}/${dispatcherDirName(ifindex, newId)}`;
      if (exists(finalDir)) removePinDir(txn);
      else renameSync(txn, finalDir);
    } else {
      removePinDir(txn);
    }
    // A dispatcher that is no longer on the hook needs no pins: the change replaced it.
    if (oldId !== 0 && now !== oldId) removePinDir(oldDir);
    out.push({ dir: n, outcome: swapped ? 'rolled-forward' : 'rolled-back' });
  }
  return out;
}
