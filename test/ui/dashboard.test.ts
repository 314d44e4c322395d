import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {Page} from "playwright-core";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {writeTestModel} from "../../src/gguf/test-model.js";
import {createLogger} from "../../src/log/logger.js";
import {HfStandin} from "../download/hf-standin.js";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";
import {findChromium, launchBrowser, type Browser} from "./browser.js";

/**
 * The dashboard in a real browser against a real server: every check waits for what the page shows, never for a
 * fixed time. `ZC_SCREENSHOTS=1` writes the screenshots into documentation/images/ (otherwise a temp folder).
 */

const chromiumPath = findChromium();
if (!chromiumPath) {
    const why = "no Chromium found (install it, e.g. apt-get install chromium, or set CHROMIUM_PATH)";
    // CI sets this: there a missing browser must fail the run instead of skipping the tests
    if (process.env.ZC_REQUIRE_BROWSER === "1") throw new Error(`dashboard browser tests: ${why}`);
    console.warn(`dashboard browser tests skipped: ${why}`);
}

const SHOTS = process.env.ZC_SCREENSHOTS === "1"
    ? path.resolve(import.meta.dirname, "../../documentation/images")
    : fs.mkdtempSync(path.join(os.tmpdir(), "zc-shots-"));
const VIEWPORT = {width: 1200, height: 760};
const REPO = "zombie/Tiny-Coder-GGUF";
const FILE = "Tiny-Coder-Q4_K_M.gguf";

let home: string;
let server: TestServer;
let standin: HfStandin;
let browser: Browser;
let page: Page;

/** The page down to the end of what it shows (an open dialog included), not the empty space below. */
async function shot(name: string): Promise<void> {
    // runs in the page (this project's type-check has no DOM types, so it goes as text)
    const height = await page.evaluate<number>(`Math.ceil(Math.min(window.innerHeight,
        Math.max(...[...document.querySelectorAll("main, dialog[open]")].map((el) => el.getBoundingClientRect().bottom)) + 8))`);
    await page.screenshot({path: path.join(SHOTS, `dashboard-${name}.png`), clip: {x: 0, y: 0, width: VIEWPORT.width, height}});
}

async function view(name: string): Promise<void> {
    await page.click(`nav a[data-view-link="${name}"]`);
    await page.locator(`section[data-view="${name}"]`).waitFor({state: "visible"});
}

const row = (model: string) => page.locator(`#models-table tr[data-model="${model}"]`);

describe.skipIf(!chromiumPath)("the dashboard in Chromium", () => {
    beforeAll(async () => {
        home = await makeHome("zc-dashboard-");
        await addModel(home, "plain/plain-q8_0.gguf", {seed: 51});
        await addModel(home, "coder/coder-q8_0.gguf", {seed: 52, tools: true, fim: true});
        // a real GGUF to download, served slowly enough to watch its progress and cancel it half-way
        const source = path.join(home, "download-source.gguf");
        await writeTestModel(source, {seed: 53});
        standin = new HfStandin();
        await standin.start();
        standin.addRepo(REPO, [{path: FILE, content: fs.readFileSync(source)}]);
        standin.chunkSize = 4 * 1024;
        standin.chunkDelayMs = 40;
        fs.rmSync(source);
        const logger = createLogger({level: "info", logsDir: path.join(home, "logs"), quiet: true});
        server = await startTestServer(home, {
            downloads: {max_concurrent: 1, hf_token: null, hf_endpoint: standin.base, retries: 0, orphan_part_days: 7},
            // the page's own origin sends POSTs with an Origin header
            auth: {enable_api_key: true, api_key: TEST_KEY, api_key_file: null, allow_loopback_without_key: false, cors_origins: ["http://127.0.0.1:*"]}
        }, {logger});
        browser = await launchBrowser(chromiumPath!, VIEWPORT);
        page = await browser.context.newPage();
    });

    afterAll(async () => {
        await browser?.close();
        await server?.close(1000);
        await standin?.close();
        await removeHome(home);
    });

    it("asks for the key, refuses a wrong one, and then lists the installed models", async () => {
        await page.goto(`${server.url}/ui`);
        await page.locator("#key-dialog").waitFor({state: "visible"});
        await page.fill("#key-input", "not-the-key");
        await page.click("#key-form button[type=submit]");
        await page.locator("#key-error", {hasText: "refused"}).waitFor();
        await shot("key");
        await page.fill("#key-input", TEST_KEY);
        await page.click("#key-form button[type=submit]");
        await page.locator("#key-dialog").waitFor({state: "hidden"});
        await row("plain").waitFor();
        await row("coder").waitFor();
        expect(await row("plain").getAttribute("data-state")).toBe("unloaded");
        await page.locator('#conn[data-state="live"]').waitFor();
        // the key is kept for the next visit
        expect(await page.evaluate<string | null>(`localStorage.getItem("zombiecoder.apiKey")`)).toBe(TEST_KEY);
    });

    it("loads a model and sees it go through loading to loaded live; pins it", async () => {
        await row("plain").locator('button[data-action="load"]').click();
        // only the live stream shows "loading": the button's own refresh comes after the load
        await page.locator('#models-table tr[data-model="plain"][data-state="loading"]').waitFor();
        await page.locator('#models-table tr[data-model="plain"][data-state="loaded"]').waitFor();
        await page.locator('#memory-bar .seg[data-model="plain"]').waitFor();
        await row("plain").locator('button[data-action="pin"]').click();
        await page.locator('#models-table tr[data-model="plain"] button[data-action="pin"][aria-pressed="true"]').waitFor();
        const plain = server.runtime.registry.models().find((m) => m.name === "plain")!;
        expect(server.runtime.manager.pinned(plain)).toBe(true);
        await shot("models");
    });

    it("runs a streaming chat in the playground and shows its timings", async () => {
        await view("playground");
        await page.selectOption("#play-model", "plain");
        await page.fill("#play-max", "12");
        await page.fill("#play-input", "Say hello");
        await page.click("#play-send");
        await page.locator('#play-timings[data-done="true"]').waitFor();
        expect(await page.locator("#play-error").textContent()).toBe("");
        const answer = await page.locator('#play-log .msg[data-role="assistant"]').textContent();
        expect(answer!.length).toBeGreaterThan(0);
        const timings = await page.locator("#play-timings").textContent();
        expect(timings).toMatch(/served by plain/);
        expect(timings).toMatch(/first token \d/);
        expect(timings).toMatch(/\d+ generated/);
        await shot("playground");
    });

    it("shows a request made by another client in the activity list", async () => {
        await view("activity");
        const res = await server.json<{usage: {completion_tokens: number}}>("/v1/chat/completions",
            {model: "plain", messages: [{role: "user", content: "from another client"}], max_tokens: 4, temperature: 0});
        expect(res.status).toBe(200);
        const entry = page.locator('#activity-table tr[data-model="plain"]', {hasText: "/v1/chat/completions"}).first();
        await entry.waitFor();
        const cells = await entry.locator("td").allTextContents();
        expect(cells[2]).toBe("openai");
        expect(cells[5]).toBe("200");
        expect(cells[11]).toBe(String(res.body.usage.completion_tokens));
        await shot("activity");
    });

    it("shows another client's change untouched, asks before unloading a busy model, and unloads from the row", async () => {
        await view("models");
        expect((await server.json("/runtime/unpin/plain", {})).status).toBe(200);
        await page.locator('#models-table tr[data-model="plain"] button[data-action="pin"][aria-pressed="false"]').waitFor();

        // while another client's generation runs, the model is busy and an unload asks first; cancelling keeps it
        const generation = new AbortController();
        const busy = server.api("/v1/chat/completions", {method: "POST", signal: generation.signal,
            json: {model: "plain", messages: [{role: "user", content: "write a long story"}], max_tokens: 4000, stream: true}})
            .then((res) => res.text()).catch(() => "");
        await page.locator('#models-table tr[data-model="plain"][data-state="busy"]').waitFor();
        await row("plain").locator('button[data-action="unload"]').click();
        await page.locator("#confirm-dialog", {hasText: "It is serving 1 request"}).waitFor();
        await page.click('#confirm-dialog button[value="cancel"]');
        await page.locator("#confirm-dialog").waitFor({state: "hidden"});
        expect(server.runtime.manager.stateOf("plain")).toBe("loaded");
        generation.abort();
        await busy;
        await page.locator('#models-table tr[data-model="plain"][data-state="loaded"]').waitFor();

        await row("plain").locator('button[data-action="unload"]').click();
        await page.locator('#models-table tr[data-model="plain"][data-state="unloaded"]').waitFor();
        expect(server.runtime.manager.stateOf("plain")).toBe("unloaded");
    });

    it("downloads from a Hugging Face reference with progress, cancels, resumes, and lists the new model", async () => {
        const modelsBefore = await page.locator("#models-table tr[data-model]").count();
        await view("downloads");
        await page.fill("#download-ref", `hf:${REPO}:Q4_K_M`);
        await page.click('#download-form button[type="submit"]');
        const card = page.locator("#download-list .dl").first();
        await card.locator('[data-facts]', {hasText: "%"}).waitFor();
        await page.locator('#download-list .dl[data-status="downloading"] .progress[aria-valuenow]:not([aria-valuenow="0"])').waitFor();
        await shot("downloads");
        await card.locator('button[data-action="cancel"]').click();
        await page.locator('#download-list .dl[data-status="cancelled"]').waitFor();
        await card.locator('button[data-action="resume"]').click();
        await page.locator('#download-list .dl[data-status="completed"]').waitFor({timeout: 30_000});
        expect(await card.locator("[data-facts]").textContent()).toMatch(/resumed from/);
        await view("models");
        await page.waitForFunction(`document.querySelectorAll("#models-table tr[data-model]").length === ${modelsBefore + 1}`);
    });

    it("streams the logs, filtered by level", async () => {
        await view("logs");
        await page.locator('#log-lines > div[data-level="info"]').first().waitFor();
        await page.selectOption("#log-level", "warn");
        // the wrong key given at the start was logged as a warning
        await page.locator('#log-lines > div[data-level="warn"]', {hasText: "401"}).first().waitFor();
        await shot("logs");
        expect(await page.locator('#log-lines > div[data-level="info"]').count()).toBe(0);
        expect(await page.locator("#log-lines").textContent()).not.toContain(TEST_KEY);
    });

    it("fills the editor snippets with this server and the model, showing the key only when asked", async () => {
        await view("editors");
        await page.selectOption("#snip-model", "coder");
        const text = await page.locator("#snippets").textContent();
        expect(text).toContain(`apiBase: ${server.url}/`);
        expect(text).toContain("model: coder");
        expect(text).toContain("ollama_chat/coder");
        expect(text).toContain("<your API key>");
        expect(await page.locator("body").textContent()).not.toContain(TEST_KEY);
        for (const id of ["continue", "zed", "copilot", "codex", "claude-code", "aider"]) await page.locator(`.snippet[data-snippet="${id}"]`).waitFor();
        await shot("editors");
        await page.check("#snip-show-key");
        expect(await page.locator('.snippet[data-snippet="continue"] pre').textContent()).toContain(`apiKey: ${TEST_KEY}`);
    });
});
