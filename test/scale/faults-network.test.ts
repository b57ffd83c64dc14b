/**
 * Faults of the network: a peer frozen mid-piece, a flood of bogus signalling, one NATS node of three killed (last:
 * see bench/lib/faults/scenarios.ts for the admission bug that a node restart leaves behind for later crowds).
 */
import { faultSuite } from './faults.js';

faultSuite('network', ['peer_stalls_mid_piece', 'bogus_signalling_flood', 'nats_node_killed']);
