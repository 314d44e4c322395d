/** The endpoints step: the provider answers on every route editors use, checked against the real server. */
import {routeName, withCheckServer, type CheckServer} from "./provider-check.js";
import {defineStep, outcome, StepError} from "./contract.js";

export interface EndpointResult {
    endpoint: string;
    method: "GET" | "POST";
    status: number | null;
    ok: boolean;
    skipped: boolean;
    ms: number | null;
    detail: string;
}

export interface EndpointsData {
    url: string;
    model: string;
    model_size_bytes: number;
    generated_test_model: boolean;
    results: EndpointResult[];
}

// The generated test model never stops by itself, and a real model might talk for a long time: always cap it.
const NUM_PREDICT = 4;

type Check = (s: CheckServer) => Promise<Omit<EndpointResult, "endpoint" | "method" | "skipped">>;

function obj(v: unknown): Record<string, unknown> {
    return v != null && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

function errText(body: unknown): string {
    const o = obj(body);
    return typeof o.error === "string" ? o.error : typeof body === "string" ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200);
}

export const endpointsStep = defineStep<{routes: string[]}>({
    id: "endpoints",

    async prepare() {
        const routes = ["GET /api/tags", "POST /api/generate", "POST /api/chat", "POST /runtime/load/{model}", "POST /runtime/unload/{model}", "GET /models/installed", "POST /download/start (invalid body: validation only)"];
        return {
            summary: ["start the provider on a free 127.0.0.1 port with the smallest installed model (or a generated test model)", ...routes.map((r) => `check ${r}`)],
            approvals: [],
            data: {routes}
        };
    },

    async apply(ctx) {
        const results: EndpointResult[] = [];
        const data = await withCheckServer(ctx, async (server): Promise<EndpointsData> => {
            const m = server.model.name;
            const run = async (method: "GET" | "POST", endpoint: string, check: Check): Promise<void> => {
                try {
                    results.push({endpoint, method, skipped: false, ...(await check(server))});
                } catch (err) {
                    results.push({endpoint, method, status: null, ok: false, skipped: false, ms: null, detail: (err as Error).message});
                }
            };
            await run("GET", "/api/tags", async (s) => {
                const r = await s.request("GET", "/api/tags");
                const names = Array.isArray(obj(r.body).models) ? (obj(r.body).models as unknown[]).map((x) => String(obj(x).name)) : [];
                const ok = r.status === 200 && names.includes(m);
                return {status: r.status, ok, ms: r.ms, detail: ok ? `${names.length} model(s) listed, including ${m}` : r.status === 200 ? `${m} is not listed` : errText(r.body)};
            });
            await run("POST", "/api/generate", async (s) => {
                const r = await s.request("POST", "/api/generate", {model: m, prompt: "Hello", stream: false, options: {num_predict: NUM_PREDICT}}, 300_000);
                const b = obj(r.body);
                const ok = r.status === 200 && typeof b.response === "string" && b.done === true;
                return {status: r.status, ok, ms: r.ms, detail: ok ? `${String(b.eval_count ?? "?")} token(s) generated, load ${Math.round(Number(b.load_duration ?? 0) / 1e6)} ms` : errText(r.body)};
            });
            await run("POST", "/api/chat", async (s) => {
                const r = await s.request("POST", "/api/chat", {model: m, messages: [{role: "user", content: "Hello"}], stream: false, options: {num_predict: NUM_PREDICT}}, 300_000);
                const b = obj(r.body);
                const ok = r.status === 200 && typeof obj(b.message).content === "string" && b.done === true;
                return {status: r.status, ok, ms: r.ms, detail: ok ? `assistant message of ${String(b.eval_count ?? "?")} token(s)` : errText(r.body)};
            });
            await run("POST", `/runtime/load/${m}`, async (s) => {
                const r = await s.request("POST", `/runtime/load/${routeName(m)}`, undefined, 300_000);
                const ok = r.status === 200 && obj(r.body).status === "loaded";
                return {status: r.status, ok, ms: r.ms, detail: ok ? `status loaded (load ${String(obj(r.body).load_ms ?? "?")} ms)` : errText(r.body)};
            });
            await run("POST", `/runtime/unload/${m}`, async (s) => {
                const r = await s.request("POST", `/runtime/unload/${routeName(m)}`);
                const st = obj(r.body).status;
                const ok = r.status === 200 && st !== "loaded";
                return {status: r.status, ok, ms: r.ms, detail: ok ? `status ${String(st)}` : errText(r.body)};
            });
            await run("GET", "/models/installed", async (s) => {
                const r = await s.request("GET", "/models/installed");
                const list = Array.isArray(obj(r.body).models) ? obj(r.body).models as unknown[] : [];
                const ok = r.status === 200 && list.some((x) => obj(x).name === m);
                return {status: r.status, ok, ms: r.ms, detail: ok ? `${list.length} model(s) installed` : errText(r.body)};
            });
            if (server.downloads === "absent") {
                results.push({endpoint: "/download/start", method: "POST", status: null, ok: true, skipped: true, ms: null, detail: "skipped: downloads module not present"});
            } else {
                await run("POST", "/download/start", async (s) => {
                    // An invalid body: validation answers 400 before anything is fetched, so nothing downloads.
                    const r = await s.request("POST", "/download/start", {});
                    const ok = r.status === 400;
                    return {status: r.status, ok, ms: r.ms, detail: ok ? `validation answered 400 (${errText(r.body)})${server.downloads === "mounted" ? "; routes mounted by setup: the server does not mount them itself" : ""}` : `expected 400 for an invalid body, got ${r.status}: ${errText(r.body)}`};
                });
            }
            return {url: server.url, model: server.model.name, model_size_bytes: server.model.size_bytes, generated_test_model: server.generated, results};
        });
        const failed = results.filter((r) => !r.ok);
        const findings = results.map((r) => `${r.ok ? (r.skipped ? "skip" : "ok  ") : "FAIL"} ${r.method} ${r.endpoint}${r.status != null ? ` ${r.status}` : ""}${r.ms != null ? ` ${r.ms} ms` : ""}: ${r.detail}`);
        if (failed.length > 0)
            throw new StepError(`${failed.length} endpoint check(s) failed with model ${data.model}:\n${findings.filter((f) => f.startsWith("FAIL")).join("\n")}`, {data: {...data}, findings});
        const checked = results.filter((r) => !r.skipped).length;
        return outcome("done", `${checked} endpoint(s) answered with ${data.model}${data.generated_test_model ? " (generated test model)" : ""}`, {findings, data: {...data}});
    }
});
