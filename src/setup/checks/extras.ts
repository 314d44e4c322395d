/** The API key, fill-in-the-middle and the configured upstreams, checked against the provider. */
import type {ModelEntry} from "../../registry/types.js";
import {resolveUpstreamConfigs} from "../../upstream/client.js";
import type {CheckServer} from "../steps/provider-check.js";
import type {CheckCollector} from "./collector.js";
import {errorText, obj} from "./types.js";

const UPSTREAM_CHAT_TIMEOUT_MS = 60_000;

/** No key: 401; a wrong key: 401; the key: 200. `allow_loopback_without_key` lets this machine in without one. */
export async function checkAuth(server: CheckServer, run: CheckCollector): Promise<void> {
    const auth = server.config.auth;
    const head = (id: string, title: string) => ({id: `auth:${id}`, group: "auth" as const, title});
    if (!auth.enable_api_key) {
        run.skip(head("no-key", "GET /api/tags without a key is refused"), "auth.enable_api_key is false: every client is let in without a key");
        return;
    }
    const refused = async (id: string, title: string, how: "none" | "wrong"): Promise<void> => {
        await run.run(head(id, title), async () => {
            const r = await server.request("GET", "/api/tags", undefined, undefined, how);
            if (auth.allow_loopback_without_key)
                return {ok: r.status === 200, skipped: r.status === 200, status: r.status, ms: r.ms, detail: "auth.allow_loopback_without_key lets this machine in without a key; other machines get 401"};
            return {ok: r.status === 401, status: r.status, ms: r.ms, detail: r.status === 401 ? "refused with 401" : `expected 401, got ${r.status}`};
        });
    };
    await refused("no-key", "GET /api/tags without a key is refused", "none");
    await refused("wrong-key", "GET /api/tags with a wrong key is refused", "wrong");
    await run.run(head("key", "GET /api/tags with the key is let in"), async () => {
        const r = await server.request("GET", "/api/tags");
        return {ok: r.status === 200, status: r.status, ms: r.ms, detail: r.status === 200 ? "answered 200" : `expected 200, got ${r.status}: ${errorText(r.body)}`};
    });
}

/** One fill-in-the-middle request (what editors' autocomplete sends) to a model whose GGUF declares FIM tokens. */
export async function checkFim(server: CheckServer, m: ModelEntry, run: CheckCollector): Promise<void> {
    await run.run({id: "fim", group: "fim", title: `${m.name}: fill-in-the-middle (POST /api/generate with a suffix)`, model: m.name}, async () => {
        const r = await server.request("POST", "/api/generate", {
            model: m.name, prompt: "def add(a, b):\n    return ", suffix: "\n\nprint(add(1, 2))\n", stream: false, options: {num_predict: 4, temperature: 0}
        }, 300_000);
        const b = obj(r.body);
        const ok = r.status === 200 && b.done === true && typeof b.response === "string";
        return {ok, status: r.status, ms: r.ms, detail: ok ? `${String(b.eval_count ?? "?")} token(s) filled in` : errorText(r.body)};
    });
}

export function skipFim(run: CheckCollector): void {
    run.skip({id: "fim", group: "fim", title: "fill-in-the-middle (POST /api/generate with a suffix)"}, "no checked model's GGUF declares fill-in-the-middle tokens");
}

/** Each configured upstream: its models are listed by /api/tags, and one of them answers a short chat through the provider. */
export async function checkUpstreams(server: CheckServer, run: CheckCollector): Promise<void> {
    const upstreams = resolveUpstreamConfigs(server.config.upstream_ollama, server.config.upstreams);
    if (upstreams.length === 0) {
        run.skip({id: "upstream", group: "upstream", title: "upstreams"}, "no upstream is configured (upstream_ollama, upstreams)");
        return;
    }
    const tags = await server.request("GET", "/api/tags");
    const listed = (Array.isArray(obj(tags.body).models) ? obj(tags.body).models as unknown[] : []).map(obj);
    for (const u of upstreams) {
        const mine = listed.filter((t) => t.upstream === u.id).map((t) => String(t.name));
        const list = await run.run({id: `upstream:${u.id}:list`, group: "upstream", title: `upstream ${u.id} (${u.url}): its models are listed`}, async () => ({
            ok: tags.status === 200 && mine.length > 0, status: tags.status, ms: tags.ms,
            detail: tags.status !== 200 ? errorText(tags.body) : mine.length > 0 ? `${mine.length} model(s), e.g. ${mine[0]}` : "no model of it is listed: it did not answer its model list, or answered an empty one"
        }));
        if (!list.ok) continue;
        const model = mine[0]!;
        await run.run({id: `upstream:${u.id}:chat`, group: "upstream", title: `upstream ${u.id}: ${model} answers a short chat through the provider`, model}, async () => {
            const r = await server.request("POST", "/api/chat", {model, messages: [{role: "user", content: "Hello"}], stream: false, options: {num_predict: 2}}, UPSTREAM_CHAT_TIMEOUT_MS);
            const ok = r.status === 200 && typeof obj(obj(r.body).message).content === "string";
            return {ok, status: r.status, ms: r.ms, detail: ok ? "answered" : errorText(r.body)};
        });
    }
}
