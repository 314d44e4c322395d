/** Pieces of a run outside the machine: the options a resumed run keeps, and waiting for a launched provider's /health. */
import http from "node:http";
import type {AddressInfo} from "node:net";
import {afterAll, expect, test} from "vitest";
import {waitForHealth} from "../../src/setup/launch.js";
import type {RunOptionsRecord} from "../../src/setup/records.js";
import {resumedOptions} from "../../src/setup/resume.js";

const recorded: RunOptionsRecord = {interactive: false, yes: true, answers_file: "/a/answers.yaml", serve: false, skip: ["endpoints"], full_tests: true};
const now: RunOptionsRecord = {interactive: true, yes: false, answers_file: null, serve: true, skip: ["tests", "endpoints"], full_tests: false};

test("a resumed run keeps the recorded flags that were not given again, and takes the given ones in either direction", () => {
    expect(resumedOptions(recorded, now, {yes: false, serve: false, answers: false}))
        .toEqual({interactive: true, yes: true, answers_file: "/a/answers.yaml", serve: false, skip: ["endpoints", "tests"], full_tests: true});
    expect(resumedOptions(recorded, {...now, answers_file: "/b/other.yaml", full_tests: true}, {yes: true, serve: true, answers: true, fullTests: true}))
        .toEqual({interactive: true, yes: false, answers_file: "/b/other.yaml", serve: true, skip: ["endpoints", "tests"], full_tests: true});
    // A state file from before --full-tests existed: the run goes on with the provider checks.
    const {full_tests: _old, ...before} = {...recorded, full_tests: undefined};
    expect(resumedOptions(before as unknown as RunOptionsRecord, now, {yes: false, serve: false, answers: false}).full_tests).toBe(false);
});

const servers: http.Server[] = [];
afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
});

async function serve(handler: http.RequestListener): Promise<string> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("waitForHealth waits through failing answers until /health says ok", async () => {
    let calls = 0;
    const url = await serve((req, res) => {
        calls++;
        res.writeHead(req.url === "/health" && calls >= 3 ? 200 : 503, {"content-type": "application/json"}).end(JSON.stringify({status: calls >= 3 ? "ok" : "starting"}));
    });
    expect(await waitForHealth(url, 5000, {intervalMs: 20})).toBe(true);
    expect(calls).toBe(3);
});

test("waitForHealth gives up at its deadline when /health never answers ok", async () => {
    const url = await serve((_req, res) => void res.writeHead(503).end());
    const t0 = Date.now();
    expect(await waitForHealth(url, 300, {intervalMs: 20})).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(Date.now() - t0).toBeLessThan(3000);
});
