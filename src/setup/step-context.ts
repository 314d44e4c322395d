/** What a step's halves are handed: the run's surroundings and its records so far. */
import type {Logger} from "../log/logger.js";
import type {SetupGit} from "./git.js";
import type {SetupContext} from "./records.js";
import type {StepId} from "./step-ids.js";
import type {StepContext} from "./steps/contract.js";
import type {CheckServerPool} from "./steps/provider-check.js";
import {loadSetupConfig, type ConfigSource} from "./steps/setup-config.js";

/** The run's surroundings, fixed for the run: where it works and how it talks to the person running it. */
export interface StepDeps {
    home: string;
    env: NodeJS.ProcessEnv;
    configSource: ConfigSource;
    logger: Logger;
    out(text: string): void;
    git: SetupGit;
    signal?: AbortSignal;
    /** Check servers shared by the steps of this run (see CheckServerPool). */
    checkServers?: CheckServerPool;
}

export function makeStepContext(deps: StepDeps, run: SetupContext, stepId: StepId, planOnly = false): StepContext {
    return {
        stepId, home: deps.home, env: deps.env, logger: deps.logger, out: (t) => deps.out(t),
        config: () => loadSetupConfig(deps.configSource).config, configSource: deps.configSource, git: deps.git,
        steps: run.steps, run, planOnly, signal: deps.signal ?? new AbortController().signal, checkServers: deps.checkServers
    };
}
