/**
 * The moto server for the e2e suite: one per test file (vitest runs files in parallel forks).
 * The start/stop logic is shared with the demo in scripts/lib/moto.mjs.
 */
import { motoAvailability, MOTO_INSTALL_HINT, startMoto, type MotoAvailability, type MotoServer } from '../../scripts/lib/moto.mjs';

export { freePort, motoAvailability, MOTO_INSTALL_HINT, startMoto, type MotoServer } from '../../scripts/lib/moto.mjs';

export const moto: MotoAvailability = motoAvailability();

/**
 * Skipping the e2e suite is allowed only when asked for (AUTHECS_E2E_SKIP_IF_NO_MOTO=1), never in
 * CI (CI set), and always with a visible warning. Otherwise a missing moto fails every e2e test
 * with the install hint.
 */
export const skipE2e: boolean = !moto.available && !process.env.CI && process.env.AUTHECS_E2E_SKIP_IF_NO_MOTO === '1';

if (skipE2e) {
  process.stderr.write(
    `\n\u001b[33m⚠ WARNING: SKIPPING the authecs end-to-end tests: ${moto.reason ?? MOTO_INSTALL_HINT}\n  (AUTHECS_E2E_SKIP_IF_NO_MOTO=1 is set; unset it to make a missing moto fail the suite.)\u001b[0m\n\n`,
  );
}

/** Starts moto, or fails with the install hint (the message a contributor without moto sees). */
export async function startMotoOrFail(): Promise<MotoServer> {
  if (!moto.available) throw new Error(`The e2e suite needs moto. ${moto.reason ?? MOTO_INSTALL_HINT}`);
  return startMoto();
}
