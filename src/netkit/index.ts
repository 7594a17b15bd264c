// netkit (6.7+): devices over rtnetlink, and their BPF chains (attach through links only).
export { create, remove, type NetkitCreateOptions, type NetkitPair, type NetkitMode, type NetkitPolicy } from './device.js';
export { query, type NetkitChain } from './query.js';
export { attachNetkitLink as attach, type NetkitSide, type NetkitLinkOptions, type NetkitRelative } from '../link/netkit.js';
