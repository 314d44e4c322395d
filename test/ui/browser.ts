/** Debian's Chromium (or the one CHROMIUM_PATH names), driven headless by playwright-core. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {chromium, type BrowserContext} from "playwright-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];

/** The browser to drive, or null when this machine has none (the browser tests then skip, saying so). */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
    const given = env.CHROMIUM_PATH;
    if (given) return fs.existsSync(given) ? given : null;
    return CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

export interface Browser {
    context: BrowserContext;
    close(): Promise<void>;
}

/** A fresh profile each time: no stored key, cache or service worker carries over between runs. */
export async function launchBrowser(executablePath: string, viewport = {width: 1280, height: 800}): Promise<Browser> {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "zc-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        viewport,
        args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"]
    });
    return {
        context,
        async close() {
            await context.close();
            fs.rmSync(profile, {recursive: true, force: true});
        }
    };
}
