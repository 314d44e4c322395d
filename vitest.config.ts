import {defineConfig} from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        // Engine tests load real models; on 2 cores they must not run side by side.
        fileParallelism: false,
        testTimeout: 60_000,
        hookTimeout: 120_000,
        pool: "forks",
        reporters: ["default"]
    }
});
