import {readFileSync} from "node:fs";

/** The provider's own version, from package.json. */
export const PROVIDER_VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {version: string}).version;
