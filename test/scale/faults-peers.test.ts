/** Faults of the peers: 30 % of them killed, one killed and restarted on its partial download, a poisoning peer. */
import { faultSuite } from './faults.js';

faultSuite('peers', ['kill_30pct_peers', 'client_killed_and_restarted', 'poisoning_peer']);
