import {startServer, type RunningServer, type ServeOptions} from "../../src/server/serve.js";
import type {ProviderConfigFile} from "../../src/config/schema.js";
import {TEST_KEY, testConfig} from "./home.js";

export interface TestServer extends RunningServer {
    key: string;
    /** fetch against the server with the API key set. */
    api(path: string, init?: RequestInit & {json?: unknown}): Promise<Response>;
    json<T = Record<string, unknown>>(path: string, body?: unknown): Promise<{status: number; body: T}>;
}

/** The real server in this process (routes, manager), with real runner child processes and the real engine. */
export async function startTestServer(home: string, overrides: Partial<ProviderConfigFile> = {}, opts: ServeOptions = {}): Promise<TestServer> {
    const config = testConfig(home, overrides);
    const server = await startServer(config, {externalSources: false, ...opts});
    const api = (p: string, init: RequestInit & {json?: unknown} = {}) => {
        const headers = new Headers(init.headers);
        if (!headers.has("x-api-key") && !headers.has("authorization")) headers.set("x-api-key", TEST_KEY);
        let body = init.body;
        if (init.json !== undefined) {
            body = JSON.stringify(init.json);
            headers.set("content-type", "application/json");
        }
        return fetch(server.url + p, {...init, headers, body});
    };
    return {
        ...server,
        key: TEST_KEY,
        api,
        async json<T>(p: string, body?: unknown) {
            const res = await api(p, body === undefined ? {} : {method: "POST", json: body});
            const text = await res.text();
            let parsed: unknown;
            try {
                parsed = JSON.parse(text);
            } catch {
                parsed = text;
            }
            return {status: res.status, body: parsed as T};
        }
    };
}

/** Reads an NDJSON response to the end, line by line. */
export async function ndjson(res: Response): Promise<Array<Record<string, unknown>>> {
    const text = await res.text();
    return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Reads an SSE response: each `data:` payload, with its `event:` name if any. */
export async function sse(res: Response): Promise<Array<{event?: string; data: string}>> {
    const text = await res.text();
    const out: Array<{event?: string; data: string}> = [];
    for (const block of text.split("\n\n")) {
        if (block.trim() === "") continue;
        let event: string | undefined;
        const data: string[] = [];
        for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        out.push({event, data: data.join("\n")});
    }
    return out;
}
