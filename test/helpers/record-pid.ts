// Loaded into every test worker (vitest setupFiles): records the worker's pid as one of this
// run's, so that test/global-setup.ts can tell this run's leftovers from another run's.
import { recordPid } from './machine-state.js';

recordPid();
