/** Faults of the network: one NATS node of three killed, a peer frozen mid-piece, a flood of bogus signalling. */
import { faultSuite } from './faults.js';

faultSuite('network', ['nats_node_killed', 'peer_stalls_mid_piece', 'bogus_signalling_flood']);
