/** The CLI runner lives with the benchmarks, which drive real clients too; tests import it from here. */
export * from '../../bench/lib/cli.js';
