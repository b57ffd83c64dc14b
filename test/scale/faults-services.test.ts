/** Faults of the services: every origin worker crashed and restarted, the tracker restarted, a gateway restarted. */
import { faultSuite } from './faults.js';

faultSuite('services', ['origin_workers_restarted', 'tracker_restarted', 'gateway_restarted']);
