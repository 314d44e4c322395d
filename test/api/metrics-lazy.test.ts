import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {METRICS_BUFFER_LIMIT} from "../../src/api/metrics.js";
import {makeHome, removeHome} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";

/** The value of one `zombiecoder_requests_total` sample with these route and status labels, or 0. */
function requestsTotal(text: string, route: string, status: string): number {
    for (const line of text.split("\n")) {
        if (!line.startsWith("zombiecoder_requests_total{")) continue;
        if (line.includes(`route="${route}"`) && line.includes(`status="${status}"`)) return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return 0;
}

async function scrape(server: TestServer): Promise<string> {
    const res = await server.api("/metrics");
    expect(res.status).toBe(200);
    return res.text();
}

/** prom-client is loaded on the first scrape or a full buffer; what happened before it must still be counted. */
describe("metrics before the registry is loaded", () => {
    let home: string;
    let server: TestServer;
    beforeEach(async () => {
        home = await makeHome("zc-metrics-lazy-");
        server = await startTestServer(home);
    });
    afterEach(async () => {
        await server.close(0);
        await removeHome(home);
    });

    it("counts every request made before the first scrape", async () => {
        for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/health`)).status).toBe(200);
        expect((await server.api("/no-such-route")).status).toBe(404);
        const text = await scrape(server);
        expect(requestsTotal(text, "/health", "200")).toBe(3);
        expect(requestsTotal(text, "unmatched", "404")).toBe(1);
        // the scrape itself is counted once it has finished, as before
        expect(requestsTotal(await scrape(server), "/metrics", "200")).toBe(1);
    });

    it("loses nothing when more events arrive than the buffer holds", async () => {
        const n = METRICS_BUFFER_LIMIT + 40;
        for (let i = 0; i < n; i += 20) await Promise.all(Array.from({length: Math.min(20, n - i)}, () => fetch(`${server.url}/health`).then((r) => r.text())));
        expect(requestsTotal(await scrape(server), "/health", "200")).toBe(n);
    });
});
