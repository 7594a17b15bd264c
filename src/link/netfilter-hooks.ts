// netfilter's protocol families and hooks by the names users write, and back (link info).
import { nf_inet_hooks, nfproto } from '../syscall/abi/net.js';

export type NetfilterFamily = 'ipv4' | 'ipv6';
export type NetfilterHookName = 'prerouting' | 'local_in' | 'forward' | 'local_out' | 'postrouting';

export const NETFILTER_FAMILIES: Readonly<Record<NetfilterFamily, number>> = { ipv4: nfproto.NFPROTO_IPV4, ipv6: nfproto.NFPROTO_IPV6 };
export const NETFILTER_HOOKS: Readonly<Record<NetfilterHookName, number>> = {
  prerouting: nf_inet_hooks.NF_INET_PRE_ROUTING,
  local_in: nf_inet_hooks.NF_INET_LOCAL_IN,
  forward: nf_inet_hooks.NF_INET_FORWARD,
  local_out: nf_inet_hooks.NF_INET_LOCAL_OUT,
  postrouting: nf_inet_hooks.NF_INET_POST_ROUTING,
};

export function netfilterFamilyName(pf: number): string {
  return (Object.entries(NETFILTER_FAMILIES).find(([, v]) => v === pf)?.[0] as string | undefined) ?? `pf ${pf}`;
}
export function netfilterHookName(hooknum: number): string {
  return (Object.entries(NETFILTER_HOOKS).find(([, v]) => v === hooknum)?.[0] as string | undefined) ?? `hook ${hooknum}`;
}

