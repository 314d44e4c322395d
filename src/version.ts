import {packageManifest} from "./build-layout.js";

/**
 * The provider's own version, from our package.json wherever this module runs (src/, dist/, an installed package):
 * the package root is found by walking up to it, not by a fixed relative path.
 */
export const PROVIDER_VERSION: string = packageManifest.version;
