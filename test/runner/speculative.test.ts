/**
 * Speculative decoding never changes greedy output, and prompt lookup really predicts on an answer that copies its
 * prompt. The scripted model writes "lines" that are user-defined tokens of its vocabulary: the tokenizer keeps them
 * whole in any input, so a prompt quoting the text holds the very tokens the model generates, as a real model's
 * rewrite of a file holds the file's tokens.
 */
import type {LlamaContextSequence, Token} from "node-llama-cpp";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {Engine} from "../../src/runner/engine.js";
import type {SequencePool} from "../../src/runner/sequences.js";
import {BackoffLookupPredictor} from "../../src/runner/speculative.js";
import type {GenerateRequest, LoadSpec} from "../../src/runtime/protocol.js";
import {greedy, modelDir, run, spec, writeModel} from "./helpers.js";

const LINES = Array.from({length: 24}, (_, i) => `\nline_${i}=f(${i});`);
const TEXT = LINES.join("");
/** The same file with every sixth line changed, as an edit changes a few lines: guesses from the prompt fail there. */
const EDITED = LINES.map((l, i) => (i % 6 === 3 ? l.replace("f(", "g(") : l));
const LOOKUP: LoadSpec["speculative"] = {promptLookup: {maxTokens: 1, minPattern: 2}};

let dir: Awaited<ReturnType<typeof modelDir>>;
let modelPath: string;
const engines: Engine[] = [];

async function engineWith(over: Partial<LoadSpec>): Promise<Engine> {
    const engine = new Engine();
    engines.push(engine);
    await engine.load(spec(modelPath, over));
    return engine;
}

/** The engine's pool (private there; the counts live on node-llama-cpp's sequence). */
function poolOf(engine: Engine): SequencePool {
    return (engine as unknown as {pool: SequencePool}).pool;
}

function sequences(engine: Engine): LlamaContextSequence[] {
    return poolOf(engine).all.map((s) => s.sequence);
}

const rewrite = (): GenerateRequest => ({
    mode: "chat",
    messages: [{role: "user", content: `Rewrite this file as it is:${TEXT}`}],
    options: greedy({num_predict: 200})
});

beforeAll(async () => {
    dir = await modelDir("zc-speculative-");
    modelPath = (await writeModel(dir.dir, "copier", {addedTokens: LINES, script: TEXT})).path;
});

afterAll(async () => {
    for (const e of engines) await e.dispose();
    await dir.remove();
});

describe("prompt lookup", () => {
    it("gives the same greedy output as no predictor, and its predictions were checked and accepted", async () => {
        const plain = await run(await engineWith({}), rewrite());
        expect(plain.text).toBe(TEXT);

        const engine = await engineWith({speculative: LOOKUP});
        const r = await run(engine, rewrite());
        expect(r.text).toBe(plain.text);
        expect(r.stats.eval_count).toBe(plain.stats.eval_count);
        const [seq] = sequences(engine);
        expect(seq!.tokenPredictor).toBeDefined();
        // the answer is the prompt's tokens, so nearly every prediction holds
        expect(seq!.tokenPredictions.validated).toBeGreaterThan(LINES.length / 3);

        // completion mode too, and a second request on the same sequence
        const c = await run(engine, {mode: "completion", prompt: `Copy:${TEXT}\n`, options: greedy({num_predict: 200})});
        const cPlain = await run(engines[0]!, {mode: "completion", prompt: `Copy:${TEXT}\n`, options: greedy({num_predict: 200})});
        expect(c.text).toBe(cPlain.text);
    });

    it("where the answer departs from the prompt, refused guesses change nothing but are counted as wasted", async () => {
        const edited = await writeModel(dir.dir, "editor", {addedTokens: [...LINES, ...EDITED], script: EDITED.join("")});
        const ask = (): GenerateRequest => ({mode: "completion", prompt: `Edit:${TEXT}\n`, options: greedy({num_predict: 200})});
        const plainEngine = new Engine();
        engines.push(plainEngine);
        await plainEngine.load(spec(edited.path));
        const plain = await run(plainEngine, ask());
        expect(plain.text).toBe(EDITED.join(""));
        const engine = new Engine();
        engines.push(engine);
        // a one-token match guesses right after every changed line too, and is refused there
        await engine.load(spec(edited.path, {speculative: {promptLookup: {maxTokens: 1, minPattern: 1}}}));
        const r = await run(engine, ask());
        expect(r.text).toBe(plain.text);
        const pool = poolOf(engine);
        const wasted = pool.wastedSamples(pool.all[0]!);
        expect(sequences(engine)[0]!.tokenPredictions.refuted).toBeGreaterThan(0);
        expect(wasted).toBe(sequences(engine)[0]!.tokenPredictions.refuted + sequences(engine)[0]!.tokenPredictions.unused);
        expect(wasted).toBeGreaterThan(0);
        // the meter counts every sampler call; the engine subtracts the wasted ones, so eval_count is the plain one
        expect(r.stats.eval_count).toBe(plain.stats.eval_count);
    });

    it("without it configured, sequences have no predictor", async () => {
        const [seq] = sequences(engines[0]!);
        expect(seq!.tokenPredictor).toBeUndefined();
    });
});

describe("draft model", () => {
    it("a draft with the same vocabulary gives the same greedy output", async () => {
        const draft = await writeModel(dir.dir, "draft", {addedTokens: LINES, script: TEXT, seed: 2});
        const engine = await engineWith({speculative: {draft: {modelPath: draft.path, name: "draft", maxTokens: 1}}});
        const r = await run(engine, rewrite());
        expect(r.text).toBe(TEXT);
        expect(sequences(engine)[0]!.tokenPredictions.validated).toBeGreaterThan(0);
    });

    it("a draft whose vocabulary differs fails with an error that names it", async () => {
        const other = await writeModel(dir.dir, "other-vocab", {extraTokens: 64, seed: 3});
        const engine = new Engine();
        engines.push(engine);
        const failed = engine.load(spec(modelPath, {speculative: {draft: {modelPath: other.path, name: "other-vocab", maxTokens: 1}}}))
            .then(() => run(engine, rewrite()));
        await expect(failed).rejects.toThrow(/draft_model 'other-vocab' cannot draft for this model: .*vocabulary/);
    });
});

describe("prompt lookup's back-off", () => {
    /** Input 10 11 12 … 29: after any of its tokens, the guess is the next one. */
    const INPUT = Array.from({length: 20}, (_, i) => (10 + i) as Token);

    function predictor(): BackoffLookupPredictor {
        const p = new BackoffLookupPredictor({maxTokens: 1, minPattern: 1});
        p.updateInputTokens(INPUT);
        p.reset({stateTokens: [1, 10] as Token[]});
        return p;
    }

    it("sits out 1, 2, 4 … steps after refused guesses, and a kept guess ends the back-off", () => {
        const p = predictor();
        const refuse = () => {
            // the model writes a token that is not the guess, then a prompt token again so that a guess is possible
            p.pushTokens([99 as Token, 12 as Token]);
        };
        expect(p.predictTokens()).toEqual([11]);
        refuse();
        expect(p.predictTokens()).toEqual([]);
        expect(p.predictTokens()).toEqual([13]);
        refuse();
        expect([p.predictTokens(), p.predictTokens()]).toEqual([[], []]);
        expect(p.predictTokens()).toEqual([13]);
        // kept: the model wrote the guess
        p.pushTokens([13 as Token]);
        expect(p.predictTokens()).toEqual([14]);
        refuse();
        // the back-off starts again from one step
        expect(p.predictTokens()).toEqual([]);
        expect(p.predictTokens()).toEqual([13]);
    });

    it("never guesses more than maxTokens, even when the pattern is longer", () => {
        const p = new BackoffLookupPredictor({maxTokens: 1, minPattern: 3});
        p.updateInputTokens(INPUT);
        p.reset({stateTokens: [10, 11, 12] as Token[]});
        expect(p.predictTokens()).toEqual([13]);
    });
});
