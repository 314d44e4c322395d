/**
 * Ollama's model management against the real server: /api/copy (an alias), /api/create (a variant with its own
 * defaults, served by its base's runner), /api/delete (alias or variant), the refusals that name the alternative
 * (push, blobs, quantize, files, deleting a GGUF), the config file after each change, and the done chunk's
 * `limit` field.
 */
import fs from "node:fs/promises";
import path from "node:path";
import {Ollama} from "ollama";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import YAML from "yaml";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {ndjson, startTestServer, type TestServer} from "../helpers/server.js";

const MODEL = "qwen2.5-0.5b-instruct";
const OTHER = "smollm2-135m-instruct";
const SYSTEM = "You are a very careful assistant who answers every question about TypeScript in exactly one short sentence.";

/** The user's file: key order, a one-line section and a hand-written entry that every edit must leave alone. */
const USER_FILE = `{
  "log_level": "silent",
  "import_sources": {"ollama": false, "lmstudio": false, "huggingface": false},
  "context_size": 512,
  "models": {
    "${OTHER}": {"pinned": true, "options": {"temperature": 0.3}}
  }
}
`;

let home: string;
let server: TestServer;
let client: Ollama;
let configFile: string;
let modelPath: string;

beforeAll(async () => {
    home = await makeHome("zc-manage-");
    configFile = path.join(home, "config", "provider_config.json");
    await fs.mkdir(path.dirname(configFile), {recursive: true});
    await fs.writeFile(configFile, USER_FILE);
    modelPath = (await addModel(home, `${MODEL}-gguf/${MODEL}-q8_0.gguf`, {seed: 71})).path;
    await addModel(home, `${OTHER}/${OTHER}-q8_0.gguf`, {seed: 72});
    server = await startTestServer(home, {context_size: 512});
    client = new Ollama({host: server.url, headers: {Authorization: `Bearer ${TEST_KEY}`}});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

async function configText(): Promise<string> {
    return fs.readFile(configFile, "utf8");
}

/** Parsed with `yaml` (JSON is YAML), as any other tool would read the file. */
async function configModels(): Promise<Record<string, Record<string, unknown>>> {
    return (YAML.parse(await configText()) as {models: Record<string, Record<string, unknown>>}).models;
}

async function expectUserKeysKept(): Promise<void> {
    const text = await configText();
    const parsed = YAML.parse(text) as Record<string, unknown>;
    expect(parsed.log_level).toBe("silent");
    expect(parsed.context_size).toBe(512);
    // untouched lines stay exactly as written
    expect(text).toContain(`  "import_sources": {"ollama": false, "lmstudio": false, "huggingface": false},\n`);
    expect(text).toContain(`    "${OTHER}": {"pinned": true, "options": {"temperature": 0.3}}`);
    expect(Object.keys(parsed)).toEqual(["log_level", "import_sources", "context_size", "models"]);
}

type Chunk = Record<string, unknown>;

async function chat(model: string, extra: Record<string, unknown> = {}): Promise<{status: number; last: Chunk; header: string | null; lines: Chunk[]}> {
    const res = await server.api("/api/chat", {method: "POST", json: {model, messages: [{role: "user", content: "hello"}], options: {temperature: 0, num_predict: 3}, ...extra}});
    const lines = res.status === 200 ? await ndjson(res) : [JSON.parse(await res.text()) as Chunk];
    return {status: res.status, last: lines.at(-1)!, header: res.headers.get("x-zombiecoder-model"), lines};
}

async function post(route: string, body: unknown, method = "POST"): Promise<{status: number; body: Record<string, unknown>; text: string; type: string | null}> {
    const res = await server.api(route, {method, json: body});
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
        parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
        // an empty 200
    }
    return {status: res.status, body: parsed, text, type: res.headers.get("content-type")};
}

describe("/api/copy: an alias in the config", () => {
    it("adds an alias that resolves at once, answers with the base's name, and keeps the rest of the file", async () => {
        const res = await server.api("/api/copy", {method: "POST", json: {source: MODEL, destination: "my-coder"}});
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("");

        const answer = await chat("my-coder");
        expect(answer.status).toBe(200);
        expect(answer.last.done).toBe(true);
        // an alias is another name for the same model: answers name the model
        expect(answer.last.model).toBe(MODEL);
        expect(answer.header).toBe(MODEL);
        expect((await server.api("/v1/models/my-coder")).status).toBe(200);

        expect((await configModels())[MODEL]).toEqual({aliases: ["my-coder"]});
        await expectUserKeysKept();
    });

    it("works through ollama-js, and concurrent copies both land in the file", async () => {
        await Promise.all([client.copy({source: MODEL, destination: "alias-a"}), client.copy({source: "my-coder", destination: "alias-b"})]);
        expect(((await configModels())[MODEL]!.aliases as string[]).sort()).toEqual(["alias-a", "alias-b", "my-coder"]);
        expect((await chat("alias-b")).last.model).toBe(MODEL);
    });

    it("refuses an unknown source (404), a taken destination and a bad name (400), changing nothing", async () => {
        const before = await configText();
        const unknown = await post("/api/copy", {source: "no-such-model", destination: "x1"});
        expect(unknown.status).toBe(404);
        expect(unknown.body.error).toMatch(/^model 'no-such-model' not found/);
        for (const destination of [OTHER, "my-coder", `${MODEL}`]) {
            const r = await post("/api/copy", {source: MODEL, destination});
            expect(r.status, destination).toBe(400);
            expect(r.body.error).toMatch(/already/);
        }
        expect((await post("/api/copy", {source: MODEL, destination: "has space"})).status).toBe(400);
        expect((await post("/api/copy", {source: MODEL})).body.error).toMatch(/destination is required/);
        expect((await post("/api/copy", {destination: "x"})).body.error).toMatch(/source is required/);
        expect((await post("/api/copy", {source: MODEL, destination: 7})).status).toBe(400);
        expect(await configText()).toBe(before);
    });
});

describe("/api/create: a variant with its own defaults", () => {
    it("streams Ollama's status lines, then lists, shows and serves the variant by its own name", async () => {
        const statuses: string[] = [];
        const progress = await client.create({
            model: "careful", from: MODEL, system: SYSTEM, parameters: {temperature: 0, top_k: 7, num_predict: 4, stop: ["<|stop|>"]}, stream: true
        });
        for await (const p of progress) statuses.push(p.status);
        expect(statuses[0]).toMatch(/^using existing layer sha256:[0-9a-f]{64}$/);
        expect(statuses.at(-1)).toBe("success");

        const tags = await client.list();
        expect(tags.models.map((m) => m.name)).toContain("careful");
        const v1 = await (await server.api("/v1/models")).json() as {data: Array<{id: string}>};
        expect(v1.data.map((m) => m.id)).toContain("careful");

        const show = await client.show({model: "careful"});
        expect(show.system).toBe(SYSTEM);
        expect(show.parameters).toMatch(/^top_k\s+7$/m);
        expect(show.parameters).toMatch(/^num_predict\s+4$/m);
        expect(show.parameters).toMatch(/^stop\s+"<\|stop\|>"$/m);

        const entry = (await configModels()).careful;
        expect(entry).toEqual({from: MODEL, system: SYSTEM, options: {temperature: 0, top_k: 7, num_predict: 4}, stop: ["<|stop|>"]});
        await expectUserKeysKept();
    });

    it("serves it with its defaults from the base's runner: the system prompt is in the prompt, no second load", async () => {
        const base = await chat(MODEL, {options: {temperature: 0, num_predict: 2}});
        const variant = await chat("careful", {options: {}});
        expect(variant.status).toBe(200);
        expect(variant.last.model).toBe("careful");
        expect(variant.header).toBe("careful");
        expect(variant.lines.every((l) => l.model === "careful")).toBe(true);
        // the variant's system prompt adds tokens to the same conversation
        expect(variant.last.prompt_eval_count as number).toBeGreaterThan(base.last.prompt_eval_count as number);
        // its num_predict applies: a limit was set, so the answer does not claim the context as its bound
        expect(variant.last.eval_count as number).toBeLessThanOrEqual(4);
        expect(variant.last.limit).toBeUndefined();
        // a request's system prompt still wins over the variant's
        const own = await chat("careful", {messages: [{role: "system", content: "Hi."}, {role: "user", content: "hello"}]});
        expect(own.last.prompt_eval_count as number).toBeLessThan(variant.last.prompt_eval_count as number);

        const ps = await client.ps();
        expect(ps.models.map((m) => m.name)).toEqual([MODEL]);
        expect(server.runtime.manager.resident().map((r) => r.entry.name)).toEqual([MODEL]);
    });

    it("accepts the legacy modelfile text, stream:false answering one success object", async () => {
        const r = await post("/api/create", {
            name: "brief",
            modelfile: `FROM ${MODEL}\nSYSTEM """Be brief.\nVery brief."""\nPARAMETER temperature 0.1\nPARAMETER stop "END"\nMESSAGE user Hi\nMESSAGE assistant Hello!\nTEMPLATE """{{ .Prompt }}"""\n`,
            stream: false
        });
        expect(r.status).toBe(200);
        expect(r.body).toEqual({status: "success"});
        const show = await client.show({model: "brief"});
        expect(show.system).toBe("Be brief.\nVery brief.");
        expect(show.parameters).toMatch(/^temperature\s+0.1$/m);
        expect(show.parameters).toMatch(/^stop\s+"END"$/m);
        expect((await configModels()).brief).toEqual({
            from: MODEL, system: "Be brief.\nVery brief.", options: {temperature: 0.1}, stop: ["END"],
            messages: [{role: "user", content: "Hi"}, {role: "assistant", content: "Hello!"}]
        });
    });

    it("says in a status line what it accepted but cannot use", async () => {
        const res = await server.api("/api/create", {method: "POST", json: {model: "templated", from: MODEL, template: "{{ .Prompt }}"}});
        const lines = await ndjson(res);
        expect(lines.map((l) => l.status)).toContainEqual(expect.stringMatching(/^template is not used/));
        expect(lines.at(-1)).toEqual({status: "success"});
    });

    it("builds on a variant, and on a discovered file's path; deleting a variant others build on is refused", async () => {
        await client.create({model: "careful-short", from: "careful", parameters: {num_predict: 2}});
        const show = await client.show({model: "careful-short"});
        // inherited from "careful", with its own num_predict over the parent's
        expect(show.system).toBe(SYSTEM);
        expect(show.parameters).toMatch(/^num_predict\s+2$/m);
        expect(show.parameters).toMatch(/^top_k\s+7$/m);
        expect((await chat("careful-short", {options: {}})).last.model).toBe("careful-short");

        const byPath = await post("/api/create", {model: "by-path", from: modelPath, stream: false});
        expect(byPath.status).toBe(200);
        expect((await configModels())["by-path"]).toEqual({from: MODEL});

        const refused = await post("/api/delete", {model: "careful"}, "DELETE");
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatch(/careful-short/);
    });

    it("re-creating a variant replaces its defaults and keeps its aliases", async () => {
        await client.copy({source: "brief", destination: "brief-alias"});
        await client.create({model: "brief", from: MODEL, system: "Shorter."});
        expect((await configModels()).brief).toEqual({from: MODEL, system: "Shorter.", aliases: ["brief-alias"]});
        expect((await client.show({model: "brief-alias"})).system).toBe("Shorter.");
        expect((await chat("brief-alias")).last.model).toBe("brief");
    });

    it("refuses what a local provider cannot do, naming the alternative, and changes nothing", async () => {
        const before = await configText();
        const cases: Array<[Record<string, unknown>, number, RegExp]> = [
            [{model: "q", from: MODEL, quantize: "q4_K_M"}, 400, /quantize is not supported.*models folder.*npm run pull/],
            [{model: "f", files: {"model.gguf": `sha256:${"a".repeat(64)}`}}, 400, /files .*not supported.*npm run pull/],
            [{model: "a", from: MODEL, adapters: {"lora.gguf": `sha256:${"b".repeat(64)}`}}, 400, /adapters are not supported/],
            [{model: "p", from: "/nowhere/some-model.gguf"}, 400, /not a model file this provider has found.*models folder/],
            [{model: "d", from: `sha256:${"c".repeat(64)}`}, 400, /no blob store/],
            [{model: "m", modelfile: "FROM ./weights.gguf\nADAPTER ./lora.gguf\n"}, 400, /ADAPTER is not supported/],
            [{model: "n"}, 400, /"from" is required.*npm run pull/],
            [{from: MODEL}, 400, /model is required/],
            [{model: MODEL, from: OTHER}, 400, /already an installed model/],
            [{model: "my-coder", from: OTHER}, 400, /already an alias of/],
            [{model: "z", from: "no-such-base"}, 404, /^model 'no-such-base' not found/],
            [{model: "careful", from: "careful-short"}, 400, /cannot be built on itself/],
            [{model: "t", from: MODEL, parameters: {temperature: "hot"}}, 400, /temperature/],
            [{model: "bad name!", from: MODEL}, 400, /invalid model name/]
        ];
        for (const [body, status, message] of cases) {
            const r = await post("/api/create", body);
            expect(r.status, JSON.stringify(body)).toBe(status);
            expect(r.type).toMatch(/^application\/json/);
            expect(r.body.error, JSON.stringify(body)).toMatch(message);
        }
        expect(await configText()).toBe(before);
    });
});

describe("/api/delete: aliases and variants only", () => {
    it("removes an alias and a variant from the config; they stop resolving at once", async () => {
        await client.delete({model: "alias-a"});
        await client.delete({model: "careful-short"});
        expect((await chat("alias-a")).status).toBe(404);
        expect((await chat("careful-short")).status).toBe(404);
        expect((await client.list()).models.map((m) => m.name)).not.toContain("careful-short");
        const models = await configModels();
        expect(models["careful-short"]).toBeUndefined();
        expect((models[MODEL]!.aliases as string[]).sort()).toEqual(["alias-b", "my-coder"]);
        // now nothing builds on it
        expect((await post("/api/delete", {name: "careful"}, "DELETE")).status).toBe(200);
        expect((await configModels()).careful).toBeUndefined();
        await expectUserKeysKept();
    });

    it("an entry left empty by removing its last alias goes away", async () => {
        for (const alias of ["alias-b", "my-coder"]) expect((await post("/api/delete", {model: alias}, "DELETE")).status).toBe(200);
        expect((await configModels())[MODEL]).toBeUndefined();
        expect((await chat("my-coder")).status).toBe(404);
    });

    it("a variant whose base is gone is not listed, and can still be deleted", async () => {
        server.runtime.config.models.ghost = {from: "no-longer-installed", system: "x"};
        server.runtime.registry.configChanged();
        expect((await client.list()).models.map((m) => m.name)).not.toContain("ghost");
        expect((await chat("ghost")).status).toBe(404);
        expect((await post("/api/delete", {model: "ghost"}, "DELETE")).status).toBe(200);
        expect(server.runtime.config.models.ghost).toBeUndefined();
    });

    it("refuses a GGUF with the safe-to-delete workflow, and 404s an unknown name", async () => {
        const gguf = await post("/api/delete", {model: MODEL}, "DELETE");
        expect(gguf.status).toBe(400);
        expect(gguf.body.error).toMatch(/model file/);
        expect(gguf.body.error).toMatch(/\/models\/safe-to-delete/);
        expect(gguf.body.error).toMatch(/POST \/models\/delete/);
        await fs.access(modelPath);
        const unknown = await post("/api/delete", {model: "never-there"}, "DELETE");
        expect(unknown.status).toBe(404);
        expect(unknown.body.error).toMatch(/^model 'never-there' not found/);
        expect((await post("/api/delete", {}, "DELETE")).body.error).toMatch(/model is required/);
    });
});

describe("push and blobs: JSON errors that name the alternative", () => {
    it("/api/push is refused: there is no registry", async () => {
        const r = await post("/api/push", {name: MODEL});
        expect(r.status).toBe(400);
        expect(r.type).toMatch(/^application\/json/);
        expect(r.body.error).toMatch(/no registry to push to/);
        expect(r.body.error).toContain(modelPath);
    });

    it("HEAD /api/blobs/:digest is a 404 (no blob store); a malformed digest a 400", async () => {
        const head = await server.api(`/api/blobs/sha256:${"d".repeat(64)}`, {method: "HEAD"});
        expect(head.status).toBe(404);
        expect(head.headers.get("content-type")).toMatch(/^application\/json/);
        expect((await server.api("/api/blobs/sha256:xyz", {method: "HEAD"})).status).toBe(400);
    });

    it("POST /api/blobs/:digest is refused without reading the upload", async () => {
        const res = await server.api(`/api/blobs/sha256:${"e".repeat(64)}`, {
            method: "POST", headers: {"content-type": "application/octet-stream"}, body: new Uint8Array(4096).fill(71)
        });
        expect(res.status).toBe(400);
        expect(res.headers.get("content-type")).toMatch(/^application\/json/);
        expect(((await res.json()) as {error: string}).error).toMatch(/no blob store.*npm run pull/);
    });
});

describe("the done chunk says when the context was the only limit", () => {
    it("/api/chat and /api/generate without a limit: limit \"context\"; with max_output_tokens or num_predict: none", async () => {
        const messages = [{role: "user", content: "hi"}];
        const unbounded = await post("/api/chat", {model: MODEL, messages, stream: false, options: {temperature: 0}});
        expect(unbounded.body.limit).toBe("context");
        const streamed = await ndjson(await server.api("/api/generate", {method: "POST", json: {model: MODEL, prompt: "hi", options: {temperature: 0}}}));
        expect(streamed.at(-1)!.limit).toBe("context");
        expect(streamed.slice(0, -1).every((l) => l.limit === undefined)).toBe(true);

        const aiSdk = await post("/api/chat", {model: MODEL, messages, stream: false, max_output_tokens: 2, options: {temperature: 0}});
        expect(aiSdk.body.limit).toBeUndefined();
        expect(aiSdk.body.eval_count as number).toBeLessThanOrEqual(2);
        const generate = await post("/api/generate", {model: MODEL, prompt: "hi", stream: false, options: {num_predict: 2}});
        expect(generate.body.limit).toBeUndefined();
        expect(generate.body.eval_count as number).toBeLessThanOrEqual(2);
    });
});

describe("the config file", () => {
    it("keeps what was made across a restart", async () => {
        const again = await startTestServer(home, {context_size: 512});
        try {
            const tags = await (await again.api("/api/tags")).json() as {models: Array<{name: string}>};
            expect(tags.models.map((m) => m.name)).toEqual(expect.arrayContaining(["brief", "by-path", "templated"]));
            const show = await again.json<{system: string}>("/api/show", {model: "brief-alias"});
            expect(show.body.system).toBe("Shorter.");
        } finally {
            await again.close(1000);
        }
    });

    it("a config that cannot be written is a 500 naming it, and nothing changes, on disk or in the server", async () => {
        const dir = path.dirname(configFile);
        const saved = await configText();
        await fs.rm(dir, {recursive: true});
        // a file where the folder was: neither reading nor writing the config can succeed
        await fs.writeFile(dir, "not a folder");
        try {
            const r = await post("/api/copy", {source: MODEL, destination: "unsaved"});
            expect(r.status).toBe(500);
            expect(r.body.error).toContain(configFile);
            expect(r.body.error).toMatch(/nothing was changed/);
            expect((await chat("unsaved")).status).toBe(404);
            expect(server.runtime.config.models[MODEL]).toBeUndefined();
        } finally {
            await fs.rm(dir);
            await fs.mkdir(dir);
            await fs.writeFile(configFile, saved);
        }
    });
});
