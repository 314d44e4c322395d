import {describe, expect, it} from "vitest";
import {runnerEnv} from "../../src/runtime/runner-process.js";

describe("a runner's environment", () => {
    it("gives the runner a one-thread libuv pool, whatever the server's pool is", () => {
        expect(runnerEnv({UV_THREADPOOL_SIZE: "8", PATH: "/bin"})).toMatchObject({UV_THREADPOOL_SIZE: "1", PATH: "/bin", NODE_LLAMA_CPP_LOG_LEVEL: "error"});
    });

    it("ZOMBIECODER_RUNNER_UV_THREADS and NODE_LLAMA_CPP_LOG_LEVEL override for a measurement", () => {
        expect(runnerEnv({ZOMBIECODER_RUNNER_UV_THREADS: "4", NODE_LLAMA_CPP_LOG_LEVEL: "debug"})).toMatchObject({UV_THREADPOOL_SIZE: "4", NODE_LLAMA_CPP_LOG_LEVEL: "debug"});
    });
});
