/**
 * Claude Code starts its system prompt with an attribution line, e.g.
 * `x-anthropic-billing-header: cc_version=2.1.37.0d9; cc_entrypoint=cli; cch=fa690;`, whose values change on every
 * request. It means nothing to the model, and because it comes first, a prompt carrying it shares almost no prefix with
 * the previous turn's: the engine would evaluate the whole conversation again on every turn. Removed before templating,
 * unless the config says otherwise.
 */
import type {ProviderConfig} from "../../config/load.js";

/** Stripping is on unless configured off. */
export const STRIP_ATTRIBUTION_DEFAULT = true;

const ATTRIBUTION_LINE = /^[ \t]*x-anthropic-billing-header:[^\n]*(?:\r?\n|$)/gim;

export function withoutAttribution(text: string): string {
    return text.replace(ATTRIBUTION_LINE, "");
}

/** The plugin's option, else the config's `anthropic.strip_attribution` when the config has that key, else the default. */
export function stripAttributionSetting(config: ProviderConfig, option?: boolean): boolean {
    if (option != null) return option;
    const section = (config as unknown as Record<string, unknown>).anthropic;
    const v = section != null && typeof section === "object" ? (section as Record<string, unknown>).strip_attribution : undefined;
    return typeof v === "boolean" ? v : STRIP_ATTRIBUTION_DEFAULT;
}
