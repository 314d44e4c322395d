/** Every step's implementation, by the id the tasklist (tasks/provider-setup.yaml) uses. */
import {configStep} from "./config.js";
import {endpointsStep} from "./endpoints.js";
import {lazyLoadStep} from "./lazy-load.js";
import {modelsStep} from "./models.js";
import {repoStep} from "./repo.js";
import {reportsStep} from "./reports.js";
import {safetyStep} from "./safety.js";
import {serviceStep} from "./service.js";
import {testsStep} from "./tests.js";
import type {StepDefinition, StepId} from "./types.js";

export const STEP_IMPLEMENTATIONS: Readonly<Record<StepId, StepDefinition<unknown>>> = {
    "repo": repoStep,
    "models": modelsStep,
    "endpoints": endpointsStep,
    "config": configStep,
    "lazy-load": lazyLoadStep,
    "service": serviceStep,
    "tests": testsStep,
    "safety": safetyStep,
    "reports": reportsStep
};
