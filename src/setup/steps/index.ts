/** Every step's implementation, by the id the tasklist (tasks/provider-setup.yaml) uses. */
import type {StepId} from "../step-ids.js";
import type {StepDefinition} from "./contract.js";
import {editorsStep} from "./editors.js";
import {endpointsStep} from "./endpoints.js";
import {serviceStep} from "./install-service.js";
import {lazyLoadStep} from "./lazy-load.js";
import {modelsStep} from "./models.js";
import {repoStep} from "./repo.js";
import {safetyStep} from "./safety.js";
import {testsStep} from "./tests.js";
import {configStep} from "./write-config.js";
import {reportsStep} from "./write-reports.js";

export const STEP_IMPLEMENTATIONS: Readonly<Record<StepId, StepDefinition<unknown>>> = {
    "repo": repoStep,
    "models": modelsStep,
    "endpoints": endpointsStep,
    "config": configStep,
    "lazy-load": lazyLoadStep,
    "service": serviceStep,
    "tests": testsStep,
    "safety": safetyStep,
    "reports": reportsStep,
    "editors": editorsStep
};
