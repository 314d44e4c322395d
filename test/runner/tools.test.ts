/**
 * Tool calls on an in-process engine: a forced call that runs out of context ends as a length stop, and parallel
 * calls are bounded. Schemas force the shape of the output (grammar-enforced lengths and counts), so what is
 * asserted does not depend on the random weights.
 */
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {Engine, MAX_PARALLEL_TOOL_CALLS} from "../../src/runner/engine.js";
import type {ToolDefinition} from "../../src/runtime/protocol.js";
import {greedy, modelDir, run, spec, writeModel} from "./helpers.js";

let remove: () => Promise<void>;
let small: Engine;
let roomy: Engine;

const ask = [{role: "user" as const, content: "Do it."}];

beforeAll(async () => {
    const dir = await modelDir("zc-runner-tools-");
    remove = dir.remove;
    const model = await writeModel(dir.dir, "toolsy", {tools: true, seed: 21});
    small = new Engine();
    await small.load(spec(model.path, {contextSize: 512}));
    roomy = new Engine();
    await roomy.load(spec(model.path, {contextSize: 4096}));
});

afterAll(async () => {
    await small?.dispose();
    await roomy?.dispose();
    await remove?.();
});

describe("a forced tool call that fills the context", () => {
    // the grammar makes the argument longer than the whole context: the call can never finish
    const endless: ToolDefinition[] = [{name: "write_essay", parameters: {
        type: "object", properties: {text: {type: "string", minLength: 1900}}, required: ["text"]
    }}];

    for (const choice of ["required", {name: "write_essay"}] as const) {
        it(`ends as a length stop, not an error (tool_choice ${JSON.stringify(choice)}, no token limit)`, async () => {
            const r = await run(small, {mode: "chat", messages: ask, tools: endless, tool_choice: choice, options: greedy({num_predict: -1})});
            expect(r.stats.done_reason).toBe("length");
            expect(r.calls).toEqual([]);
            expect(r.stats.eval_count).toBeGreaterThan(0);
            expect(r.stats.prompt_tokens + r.stats.eval_count).toBeLessThanOrEqual(512 + 64);
        });
    }

    it("the runner serves the next request on the same sequence afterwards", async () => {
        const r = await run(small, {mode: "chat", messages: ask, options: greedy({num_predict: 4})});
        expect(r.stats.eval_count).toBe(4);
        expect(small.status().sequences.every((s) => s.job === null)).toBe(true);
    });
});

describe("parallel tool calls", () => {
    // a call with no arguments is a handful of tokens, so a forced model can emit many within the limit
    const ping: ToolDefinition[] = [{name: "ping", parameters: {type: "object", properties: {}}}];

    it(`are capped at ${MAX_PARALLEL_TOOL_CALLS} by default`, async () => {
        const r = await run(roomy, {mode: "chat", messages: ask, tools: ping, tool_choice: "required", options: greedy({num_predict: 1500})});
        expect(r.calls.length).toBeGreaterThan(0);
        expect(r.calls.length).toBeLessThanOrEqual(MAX_PARALLEL_TOOL_CALLS);
        expect(r.stats.done_reason).toBe("tool_calls");
    });

    it("parallelToolCalls false stops after the first complete call", async () => {
        const r = await run(roomy, {mode: "chat", messages: ask, tools: ping, tool_choice: "required", parallelToolCalls: false, options: greedy({num_predict: 1500})});
        expect(r.calls).toHaveLength(1);
        expect(r.calls[0]!.name).toBe("ping");
        expect(r.stats.done_reason).toBe("tool_calls");
    });
});
