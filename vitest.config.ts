import { defineConfig } from 'vitest/config';

// .ci/run asks for a JSON report so it can print "N passed, N failed" itself.
const jsonReport = process.env.TSBPF_VITEST_JSON;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Kernel and network suites share interfaces, bpffs and RCU-heavy attach paths: running
    // files one at a time keeps their fd-leak guards and hook-ownership checks meaningful.
    fileParallelism: false,
    pool: 'forks',
    // Around the whole run: the machine is left as it was found (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/helpers/record-pid.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: jsonReport ? ['default', 'json'] : ['default'],
    ...(jsonReport ? { outputFile: { json: jsonReport } } : {}),
  },
});
