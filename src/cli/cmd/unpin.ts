// tsbpf map|prog|link unpin PIN: remove a pin, and say what became of the object. A pin is one
// holder among others (fds, other pins, the hook of an attached program): the object goes only
// when the last holder lets go, so the answer is read back from the kernel, never assumed.
import { BpfMap, BpfProgram, Link } from '../../index.js';
import { BpfError } from '../../errors.js';
import { type Verb, positionals } from '../command.js';
import { CliUsageError } from '../errors.js';
import { openLink, openMap, openProgram, parseRef } from '../refs.js';

type Kind = 'map' | 'prog' | 'link';
const WORD: Record<Kind, string> = { map: 'map', prog: 'program', link: 'link' };

function stillThere(kind: Kind, id: number): boolean {
  try {
    (kind === 'map' ? BpfMap.fromId(id) : kind === 'prog' ? BpfProgram.fromId(id) : Link.fromId(id)).close();
    return true;
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT') return false;
    throw e;
  }
}

export function unpinVerb(kind: Kind): Verb {
  const word = WORD[kind];
  return {
    name: `${kind} unpin`,
    usage: `${kind} unpin PIN`,
    summary: `remove a ${word}'s pin from bpffs (the ${word} goes when nothing else holds it)`,
    help: [
      `PIN must pin a ${word}: a pin of anything else is left in place (exit 2).`,
      `The result says whether the ${word} is gone or lives on (another pin, an open fd${kind === 'link' ? '' : ', an attachment'} holds it).`,
      ...(kind === 'link' ? ['A link that is gone has detached its program from the hook.'] : []),
    ].join('\n'),
    run(args) {
      const [path] = positionals(args, 1, 1, this.usage);
      const ref = parseRef(path, word, this.usage);
      if (!('pin' in ref)) throw new CliUsageError(`${kind} unpin takes a pin path (an id has no pin to remove)`, this.usage);
      const obj = kind === 'map' ? openMap(ref) : kind === 'prog' ? openProgram(ref) : openLink(ref);
      let id: number;
      try {
        id = obj.info().id;
        obj.unpin(ref.pin);
      } finally {
        obj.close();
      }
      const remains = stillThere(kind, id);
      return {
        data: { kind: word, id, unpinned: ref.pin, remains },
        human: () =>
          `removed the pin ${ref.pin} of ${word} ${id}; ` +
          (remains ? `${word} ${id} lives on (something else holds it)` : `${word} ${id} is gone (nothing else held it)${kind === 'link' ? ': its program is detached' : ''}`),
      };
    },
  };
}
