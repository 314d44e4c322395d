/**
 * A second `npm start` on a port that is taken: it says who holds the port (another provider, Ollama, some other
 * HTTP server, a program that does not speak HTTP) and how to choose another port, and starts nothing.
 */
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {bindError, busyPortMessage, connectHost, identifyListener, nextFreePort} from "../../src/cli/busy-port.js";
import {runCli} from "./run-cli.js";

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
afterAll(async () => {
    // Keep-alive connections from fetch and the silent server's open sockets would hold close() forever.
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: net.Server, port = 0): Promise<number> {
    servers.push(server);
    server.on("connection", (socket: net.Socket) => {
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return (server.address() as net.AddressInfo).port;
}

/** Answers /health the way the provider does. */
const providerStandIn = () => listen(http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url === "/health") res.end(JSON.stringify({status: "ok", version: "9.9.9", uptime_seconds: 754, models_loaded: [], runners: [], reasons: []}));
    else res.end("Ollama is running");
}));
const ollamaStandIn = () => listen(http.createServer((req, res) => {
    if (req.url === "/") res.end("Ollama is running");
    else {
        res.statusCode = 404;
        res.end("404 page not found");
    }
}));
const webServer = () => listen(http.createServer((_req, res) => {
    res.setHeader("server", "toy/1.0");
    res.statusCode = 404;
    res.end("nothing here");
}));
/** Accepts connections and never says a word. */
const silentTcp = () => listen(net.createServer(() => undefined));

describe("identifying who holds a port", () => {
    it("a taken port fails to bind with EADDRINUSE; a free one binds and is let go", async () => {
        const port = await webServer();
        expect((await bindError("127.0.0.1", port))?.code).toBe("EADDRINUSE");
        const free = await nextFreePort("127.0.0.1", port);
        expect(free).not.toBeNull();
        expect(await bindError("127.0.0.1", free!)).toBeNull();
        // letting go means a real server can take it right after
        expect(await listen(net.createServer(), free!)).toBe(free);
    });

    it("tells a provider, Ollama, another web server and a silent program apart", async () => {
        const [p, o, w, s] = await Promise.all([providerStandIn(), ollamaStandIn(), webServer(), silentTcp()]);
        expect(await identifyListener("127.0.0.1", p)).toEqual({kind: "zombiecoder", version: "9.9.9", uptimeSeconds: 754});
        expect(await identifyListener("127.0.0.1", o)).toEqual({kind: "ollama"});
        expect(await identifyListener("127.0.0.1", w)).toEqual({kind: "http", status: 404, server: "toy/1.0"});
        expect(await identifyListener("127.0.0.1", s, 300)).toEqual({kind: "unknown"});
    });

    it("reaches a wildcard bind over loopback", () => {
        expect(connectHost("0.0.0.0")).toBe("127.0.0.1");
        expect(connectHost("::")).toBe("::1");
        expect(connectHost("192.168.1.5")).toBe("192.168.1.5");
    });

    it("the message names the holder, the config key and the environment override", () => {
        const text = busyPortMessage({host: "127.0.0.1", port: 8007, listener: {kind: "zombiecoder", version: "0.1.0", uptimeSeconds: 30}, configPath: "/h/config/provider_config.json", portEnv: "ZOMBIECODER_PORT", freePort: 8008});
        expect(text).toContain("error: cannot listen on 127.0.0.1:8007: the port is already in use by another ZombieCoder provider (version 0.1.0, up 30 s).");
        expect(text).toContain("already running at http://127.0.0.1:8007");
        expect(text).toContain("set \"server_port\" in /h/config/provider_config.json");
        expect(text).toContain("ZOMBIECODER_PORT=8008 npm start (8008 is free right now)");
        const ollama = busyPortMessage({host: "::", port: 11434, listener: {kind: "ollama"}, configPath: "/c.json", portEnv: "ZOMBIECODER_PORT", freePort: null});
        expect(ollama).toContain("in use by Ollama");
        expect(ollama).toContain("ZOMBIECODER_PORT=11435 npm start.");
    });
});

describe.concurrent("npm start on a busy port", () => {
    const homes: string[] = [];
    afterAll(() => {
        for (const h of homes) fs.rmSync(h, {recursive: true, force: true});
    });
    const home = () => {
        const h = fs.mkdtempSync(path.join(os.tmpdir(), "zc-busy-"));
        homes.push(h);
        return h;
    };

    it("held by another HTTP server: says so, how to pick another port, exits 1, starts nothing", async () => {
        const port = await webServer();
        const h = home();
        const r = await runCli("src/cli/start.ts", ["--home", h], {env: {ZOMBIECODER_PORT: String(port)}});
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`error: cannot listen on 127.0.0.1:${port}: the port is already in use by another HTTP server (GET / answered 404, Server: toy/1.0), not a ZombieCoder provider.`);
        expect(r.stderr).toContain(`set "server_port" in ${path.join(h, "config", "provider_config.json")}`);
        expect(r.stderr).toMatch(/or for one run: ZOMBIECODER_PORT=\d+ npm start/);
        expect(r.stderr).not.toContain("EADDRINUSE");
        expect(r.stdout).toBe("");
        // The check comes before the logger, the runtime and the download manager: not even the logs folder exists.
        expect(fs.readdirSync(h)).toEqual([]);
    });

    it("held by a provider: says one is already running there", async () => {
        const port = await providerStandIn();
        const r = await runCli("src/cli/start.ts", ["--home", home()], {env: {ZOMBIECODER_PORT: String(port)}});
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("already in use by another ZombieCoder provider (version 9.9.9, up 13 min)");
        expect(r.stderr).toContain(`The provider is already running at http://127.0.0.1:${port}`);
    });
});
