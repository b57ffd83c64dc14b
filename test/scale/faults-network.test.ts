/**
 * Faults of the network: one NATS node of three killed (then restarted), a peer frozen mid-piece, a flood of bogus
 * signalling. The node kill goes first so the two later crowds run on the cluster it left behind.
 */
import { faultSuite } from './faults.js';

faultSuite('network', ['nats_node_killed', 'peer_stalls_mid_piece', 'bogus_signalling_flood']);
