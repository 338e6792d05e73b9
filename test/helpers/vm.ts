/** Shared bits of the vm backend suites. */
import { vmImagesPresent, vmImagesDir } from "../../src/backends/vm/node/images.js";

/** The vm suites run only where the guest image is built (scripts/setup.sh builds it). */
export const vmSkip: string | false = vmImagesPresent() ? false : `vm guest image missing (${vmImagesDir()}): run npm run build:vm`;
