/**
 * Every route editors and agents use, checked once against the provider with one model: each family's model list,
 * a short generation in each family's shape, and the runtime's own routes. Generation is capped at a couple of
 * tokens: the answer's shape is what is checked, never its text (a test model's words differ between CPUs).
 */
import type {CheckServer, HttpResult} from "../steps/provider-check.js";
import {routeName} from "../steps/provider-check.js";
import type {CheckCollector} from "./collector.js";
import {errorText, obj} from "./types.js";

const TOKENS = 2;
const GENERATION_TIMEOUT_MS = 300_000;

interface RouteCheck {
    method: "GET" | "POST";
    /** The route as the tasklist and the report name it. */
    route: string;
    path(model: string): string;
    body?(model: string): unknown;
    /** Whether the answer is right, and what to say about it. */
    verify(r: HttpResult, model: string): {ok: boolean; detail: string};
    /** Routes whose absence (404) is reported as skipped rather than failed: newer than some providers. */
    optional?: boolean;
}

function names(list: unknown, key: string): string[] {
    return Array.isArray(list) ? list.map((x) => String(obj(x)[key])) : [];
}

const generated = (r: HttpResult, ok: boolean, what: string): {ok: boolean; detail: string} =>
    r.status === 200 && ok ? {ok: true, detail: what} : {ok: false, detail: r.status === 200 ? `unexpected answer: ${JSON.stringify(r.body).slice(0, 200)}` : errorText(r.body)};

/** In the order they run: lists first, then a load, generations on the loaded model, and the unload last. */
export const ROUTE_CHECKS: readonly RouteCheck[] = [
    {
        method: "GET", route: "/health", path: () => "/health",
        verify: (r) => ({ok: r.status === 200, detail: r.status === 200 ? `status ${String(obj(r.body).status ?? "ok")}` : errorText(r.body)})
    },
    {
        method: "GET", route: "/api/tags", path: () => "/api/tags",
        verify: (r, m) => {
            const listed = names(obj(r.body).models, "name");
            return {ok: r.status === 200 && listed.includes(m), detail: r.status !== 200 ? errorText(r.body) : listed.includes(m) ? `${listed.length} model(s) listed` : `${m} is not listed`};
        }
    },
    {
        method: "POST", route: "/api/show", path: () => "/api/show", body: (m) => ({model: m}),
        verify: (r) => {
            const caps = obj(r.body).capabilities;
            return {ok: r.status === 200 && Array.isArray(caps), detail: r.status === 200 ? `capabilities: ${Array.isArray(caps) ? caps.join(", ") : "missing"}` : errorText(r.body)};
        }
    },
    {
        method: "GET", route: "/v1/models", path: () => "/v1/models",
        verify: (r, m) => {
            const listed = names(obj(r.body).data, "id");
            return {ok: r.status === 200 && listed.includes(m), detail: r.status !== 200 ? errorText(r.body) : listed.includes(m) ? `${listed.length} model(s) listed` : `${m} is not listed`};
        }
    },
    {
        method: "GET", route: "/models/installed", path: () => "/models/installed",
        verify: (r, m) => {
            const listed = names(obj(r.body).models, "name");
            return {ok: r.status === 200 && listed.includes(m), detail: r.status !== 200 ? errorText(r.body) : `${listed.length} model(s) installed`};
        }
    },
    {
        method: "POST", route: "/runtime/load/{model}", path: (m) => `/runtime/load/${routeName(m)}`,
        verify: (r) => ({ok: r.status === 200 && obj(r.body).status === "loaded", detail: r.status === 200 ? `status ${String(obj(r.body).status)}, load ${String(obj(r.body).load_ms ?? "?")} ms` : errorText(r.body)})
    },
    {
        method: "POST", route: "/api/generate", path: () => "/api/generate",
        body: (m) => ({model: m, prompt: "Hello", stream: false, options: {num_predict: TOKENS}}),
        verify: (r) => generated(r, typeof obj(r.body).response === "string" && obj(r.body).done === true, `${String(obj(r.body).eval_count ?? "?")} token(s)`)
    },
    {
        method: "POST", route: "/api/chat", path: () => "/api/chat",
        body: (m) => ({model: m, messages: [{role: "user", content: "Hello"}], stream: false, options: {num_predict: TOKENS}}),
        verify: (r) => generated(r, typeof obj(obj(r.body).message).content === "string" && obj(r.body).done === true, `assistant message of ${String(obj(r.body).eval_count ?? "?")} token(s)`)
    },
    {
        method: "POST", route: "/v1/chat/completions", path: () => "/v1/chat/completions",
        body: (m) => ({model: m, messages: [{role: "user", content: "Hello"}], max_tokens: TOKENS}),
        verify: (r) => {
            const choice = obj(Array.isArray(obj(r.body).choices) ? (obj(r.body).choices as unknown[])[0] : null);
            return generated(r, typeof obj(choice.message).content === "string", `finish_reason ${String(choice.finish_reason)}`);
        }
    },
    {
        method: "POST", route: "/v1/messages", path: () => "/v1/messages",
        body: (m) => ({model: m, max_tokens: TOKENS, messages: [{role: "user", content: "Hello"}]}),
        verify: (r) => generated(r, obj(r.body).type === "message" && Array.isArray(obj(r.body).content), `stop_reason ${String(obj(r.body).stop_reason)}`)
    },
    {
        method: "POST", route: "/v1/responses", path: () => "/v1/responses", optional: true,
        body: (m) => ({model: m, input: "Hello", max_output_tokens: 16, store: false}),
        verify: (r) => generated(r, obj(r.body).object === "response" && Array.isArray(obj(r.body).output), `status ${String(obj(r.body).status)}`)
    },
    {
        method: "GET", route: "/runtime/status", path: () => "/runtime/status",
        verify: (r, m) => {
            const entry = (Array.isArray(obj(r.body).models) ? obj(r.body).models as unknown[] : []).map(obj).find((x) => x.name === m);
            return {ok: r.status === 200 && entry?.state === "loaded", detail: r.status !== 200 ? errorText(r.body) : `${m} is ${String(entry?.state ?? "missing")}`};
        }
    },
    {
        method: "POST", route: "/runtime/unload/{model}", path: (m) => `/runtime/unload/${routeName(m)}`,
        verify: (r) => ({ok: r.status === 200 && obj(r.body).status !== "loaded", detail: r.status === 200 ? `status ${String(obj(r.body).status)}` : errorText(r.body)})
    }
];

/** The routes the suite covers, as the tasklist names them. */
export const CHECKED_ROUTES: readonly string[] = [...ROUTE_CHECKS.map((c) => `${c.method} ${c.route}`), "POST /download/start"];

export async function checkRoutes(server: CheckServer, model: string, run: CheckCollector): Promise<void> {
    for (const c of ROUTE_CHECKS) {
        const head = {id: `route:${c.method} ${c.route}`, group: "routes" as const, title: `${c.method} ${c.route}`, model};
        await run.run(head, async () => {
            const r = await server.request(c.method, c.path(model), c.body?.(model), GENERATION_TIMEOUT_MS, c.route === "/health" ? "none" : "key");
            if (c.optional && r.status === 404) return {ok: true, skipped: true, status: r.status, ms: r.ms, detail: "this provider does not serve the route"};
            return {...c.verify(r, model), status: r.status, ms: r.ms};
        });
    }
    const head = {id: "route:POST /download/start", group: "routes" as const, title: "POST /download/start (an invalid body: nothing downloads)", model: null};
    if (server.downloads === "absent") {
        run.skip(head, "the downloads module is not present");
        return;
    }
    await run.run(head, async () => {
        // An invalid body: validation answers 400 before anything is fetched.
        const r = await server.request("POST", "/download/start", {});
        return {ok: r.status === 400, status: r.status, ms: r.ms, detail: r.status === 400 ? `validation answered 400 (${errorText(r.body)})` : `expected 400 for an invalid body, got ${r.status}: ${errorText(r.body)}`};
    });
}
