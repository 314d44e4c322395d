import {defineConfig} from "vitest/config";

/**
 * Unit files: they never start a server, a runner, a model or a child process and wait on no timer, so two of them
 * may run side by side, and they share worker processes (isolate: false skips re-importing the source for every
 * file: these 36 took 32 s one by one in fresh processes, 7 s this way), so each must leave no global state behind
 * (restore spies, env, cwd).
 * Everything else, the default for a new file, runs one file at a time in a fresh process: engine tests load real
 * models and on 2 cores they must not compete. Add a file here only if it keeps to both rules.
 */
const UNIT_FILES = [
    "test/audit/audit.test.ts",
    "test/audit/keep-rule.test.ts",
    "test/bench/peer.test.ts",
    "test/cli/args.test.ts",
    "test/cli/build-layout.test.ts",
    "test/cli/command-args.test.ts",
    "test/cli/command-hint.test.ts",
    "test/cli/scripts.test.ts",
    "test/cli/stale-build.test.ts",
    "test/config/config.test.ts",
    "test/config/edit.test.ts",
    "test/config/home.test.ts",
    "test/config/schema.test.ts",
    "test/download/job-store.test.ts",
    "test/download/progress.test.ts",
    "test/download/queue.test.ts",
    "test/download/ref.test.ts",
    "test/download/start-guards.test.ts",
    "test/gguf/writer.test.ts",
    "test/registry/engine-free.test.ts",
    "test/registry/resolve.test.ts",
    "test/registry/variants.test.ts",
    "test/runner/private-cache.test.ts",
    "test/runner/tool-syntax.test.ts",
    "test/runtime/manager.test.ts",
    "test/runtime/model-state.test.ts",
    "test/runtime/permits.test.ts",
    "test/runtime/runner-env.test.ts",
    "test/runtime/scheduling.test.ts",
    "test/service/launchd.test.ts",
    "test/service/support.test.ts",
    "test/service/windows.test.ts",
    "test/setup/approvals.test.ts",
    "test/setup/cli.test.ts",
    "test/setup/closing.test.ts",
    "test/setup/editor-files.test.ts",
    "test/sources/sources.test.ts",
    "test/structure/docs-shells.test.ts",
    "test/structure/imports.test.ts",
    "test/ui/manager-events.test.ts"
];

export default defineConfig({
    test: {
        testTimeout: 60_000,
        hookTimeout: 120_000,
        pool: "forks",
        reporters: ["default"],
        // vitest runs the unit project first (two workers), then the serial files one by one (sequential group)
        projects: [
            {extends: true, test: {name: "unit", include: UNIT_FILES, maxWorkers: 2, isolate: false}},
            {extends: true, test: {name: "serial", include: ["test/**/*.test.ts"], exclude: UNIT_FILES, fileParallelism: false}}
        ]
    }
});
