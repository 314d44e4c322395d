/**
 * Write a tiny deterministic GGUF test model.
 *
 *   tsx scripts/make-test-model.ts <out.gguf> [--fim] [--tools] [--realistic] [--quant f32|f16|q8_0]
 *       [--seed N] [--name NAME] [--arch NAME] [--embedding[=mean|cls|last|none|rank]] [--split N]
 *       [--projector] [--truncate] [--tie|--no-tie] [--embd N] [--layers N] [--heads N] [--kv-heads N]
 *       [--ff N] [--ctx N] [--extra-tokens N] [--alignment N] [--chat-format chatml|chatml-tools|qwen3|harmony]
 *       [--script TEXT [--then end-of-turn|end-of-text|repeat]] [--script-json TURNS]
 *
 * --script makes a scripted model that writes TEXT after any prompt (see src/gguf/script.ts); --script-json takes
 * the full form, a JSON array of {after?, text, then?} turns. Prints the info object as JSON on stdout.
 */
import path from "node:path";
import {parseArgs} from "node:util";
import {
    writeTestModel,
    type ChatFormatName,
    type ScriptEnd,
    type TestModelOptions,
    type TestModelPooling,
    type TestModelQuantization,
    type TestModelScript
} from "../src/gguf/test-model.js";

const USAGE = "usage: tsx scripts/make-test-model.ts <out.gguf> [--fim] [--tools] [--realistic] [--quant f32|f16|q8_0] " +
    "[--seed N] [--name NAME] [--arch NAME] [--embedding[=POOLING]] [--split N] [--projector] [--truncate] " +
    "[--tie|--no-tie] [--embd N] [--layers N] [--heads N] [--kv-heads N] [--ff N] [--ctx N] [--extra-tokens N] [--alignment N] " +
    "[--chat-format chatml|chatml-tools|qwen3|harmony] [--script TEXT [--then end-of-turn|end-of-text|repeat]] [--script-json TURNS]";

const THEN_VALUES = ["end-of-turn", "end-of-text", "repeat"] as const;

function scriptFrom(text: string | undefined, then: string | undefined, json: string | undefined): TestModelScript | undefined {
    if (text != null && json != null)
        throw new Error("give --script or --script-json, not both");
    if (then != null && !(THEN_VALUES as readonly string[]).includes(then))
        throw new Error(`--then must be one of ${THEN_VALUES.join(", ")}, got "${then}"`);
    if (then != null && text == null)
        throw new Error("--then needs --script");
    if (text != null)
        return {text, then: then as ScriptEnd | undefined};
    if (json == null)
        return undefined;
    let parsed: unknown;
    try {
        parsed = JSON.parse(json);
    } catch (err) {
        throw new Error(`--script-json is not JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed))
        throw new Error("--script-json must be a JSON array of {after?, text, then?} turns");
    return parsed as TestModelScript;
}

function int(name: string, value: string | undefined): number | undefined {
    if (value == null)
        return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n))
        throw new Error(`--${name} expects an integer, got "${value}"`);
    return n;
}

async function main(argv: string[]): Promise<void> {
    // parseArgs has no optional-value flags, so "--embedding=mean" and a bare "--embedding" are split here.
    let embedding: TestModelOptions["embedding"];
    const rest = argv.filter((arg) => {
        const m = /^--embedding(?:=(.*))?$/.exec(arg);
        if (m == null)
            return true;
        embedding = m[1] == null ? true : {pooling: m[1] as TestModelPooling};
        return false;
    });
    const {values, positionals} = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
            fim: {type: "boolean"},
            tools: {type: "boolean"},
            realistic: {type: "boolean"},
            projector: {type: "boolean"},
            truncate: {type: "boolean"},
            tie: {type: "boolean"},
            "no-tie": {type: "boolean"},
            quant: {type: "string"},
            seed: {type: "string"},
            name: {type: "string"},
            arch: {type: "string"},
            split: {type: "string"},
            embd: {type: "string"},
            layers: {type: "string"},
            heads: {type: "string"},
            "kv-heads": {type: "string"},
            ff: {type: "string"},
            ctx: {type: "string"},
            "extra-tokens": {type: "string"},
            alignment: {type: "string"},
            "chat-format": {type: "string"},
            script: {type: "string"},
            then: {type: "string"},
            "script-json": {type: "string"},
            help: {type: "boolean", short: "h"}
        }
    });
    if (values.help === true || positionals.length !== 1) {
        process.stderr.write(USAGE + "\n");
        process.exitCode = values.help === true ? 0 : 2;
        return;
    }
    const quant = values.quant as TestModelQuantization | undefined;
    if (quant != null && !["f32", "f16", "q8_0"].includes(quant))
        throw new Error(`--quant must be f32, f16 or q8_0, got "${quant}"`);
    const options: TestModelOptions = {
        fim: values.fim,
        tools: values.tools,
        realisticShape: values.realistic,
        projector: values.projector,
        truncateTensorData: values.truncate,
        tieEmbeddings: values["no-tie"] === true ? false : values.tie,
        quantization: quant,
        seed: int("seed", values.seed),
        name: values.name,
        architecture: values.arch,
        embedding,
        split: int("split", values.split),
        embeddingLength: int("embd", values.embd),
        blockCount: int("layers", values.layers),
        headCount: int("heads", values.heads),
        headCountKv: int("kv-heads", values["kv-heads"]),
        feedForwardLength: int("ff", values.ff),
        contextLength: int("ctx", values.ctx),
        extraTokens: int("extra-tokens", values["extra-tokens"]),
        alignment: int("alignment", values.alignment),
        chatFormat: values["chat-format"] as ChatFormatName | undefined,
        script: scriptFrom(values.script, values.then, values["script-json"])
    };
    return writeTestModel(path.resolve(positionals[0]), options).then((info) => {
        process.stdout.write(JSON.stringify({...info, chatTemplate: info.chatTemplate == null ? undefined : `${info.chatTemplate.length} chars`}, null, 2) + "\n");
    });
}

main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exitCode = 1;
});
