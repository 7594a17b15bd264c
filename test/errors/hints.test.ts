// Each errno hint talks about what the failed command works on: a refused map creation names
// the map type, not a program type; ENOENT on a lookup is a missing key, on BPF_OBJ_GET a
// missing pin.
import { describe, expect, it } from 'vitest';
import { BpfError, NetlinkError } from '../../src/index.js';
import { ERRNO } from '../../src/errno-names.js';

const { EPERM, ENOENT, ENOSPC, EEXIST, EACCES, EOPNOTSUPP } = ERRNO;
const msg = (errno: number, command: string) => new BpfError({ errno, command }).message;

describe('BpfError hints name the object of the command', () => {
  it('EPERM: map type for maps, program type for loads, attachment for links', () => {
    expect(msg(EPERM, 'BPF_MAP_CREATE')).toMatch(/refuse this map type or these flags outright$/);
    expect(msg(EPERM, 'BPF_MAP_CREATE')).not.toMatch(/program/);
    expect(msg(EPERM, 'BPF_PROG_LOAD')).toMatch(/refuse this program type outright$/);
    expect(msg(EPERM, 'BPF_LINK_CREATE')).toMatch(/refuse this kind of attachment outright$/);
    expect(msg(EPERM, 'BPF_BTF_LOAD')).toMatch(/refuse this BTF outright$/);
  });

  it('ENOENT, ENOSPC, EEXIST and EACCES in the terms of maps, pins, ids and programs', () => {
    expect(msg(ENOENT, 'BPF_MAP_LOOKUP_ELEM')).toMatch(/the key is not in the map/);
    expect(msg(ENOENT, 'BPF_OBJ_GET')).toMatch(/nothing is pinned at that path/);
    expect(msg(ENOENT, 'BPF_PROG_GET_FD_BY_ID')).toMatch(/no object with that id/);
    expect(msg(ENOSPC, 'BPF_MAP_UPDATE_ELEM')).toMatch(/the map is full$/);
    expect(msg(ENOSPC, 'BPF_PROG_LOAD')).toMatch(/log buffer too small$/);
    expect(msg(EEXIST, 'BPF_MAP_UPDATE_ELEM')).toMatch(/the element already exists$/);
    expect(msg(EEXIST, 'BPF_OBJ_PIN')).toMatch(/already pinned at that path$/);
    expect(msg(EACCES, 'BPF_PROG_LOAD')).toMatch(/the verifier refused it$/);
    expect(msg(EACCES, 'BPF_OBJ_GET')).toMatch(/a permission check refused it$/);
    expect(msg(EOPNOTSUPP, 'BPF_MAP_CREATE')).toMatch(/does not support this map type or these flags$/);
  });

  it('netlink errors without extack fall back to the same hints; with extack, the kernel speaks', () => {
    expect(new NetlinkError({ errno: EPERM, command: 'RTM_NEWTFILTER' }).message).toMatch(/this kind of attachment/);
    expect(new NetlinkError({ errno: EPERM, command: 'RTM_NEWTFILTER', extack: 'nope' }).message).toMatch(/kernel says: nope$/);
  });
});
