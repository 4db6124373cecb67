/**
 * Fixtures a user already has before `authecs up`: the hosted zone, the ecsplatform network
 * stack (from templates/network.yaml) and the ecsInstanceRole instance profile. Shared with the
 * demo in scripts/lib/fixtures.mjs.
 */
export { apexOf, INSTANCE_PROFILE, NETWORK_STACK, NETWORK_TEMPLATE, PROJECT_ROOT, seedFixtures, type Fixtures } from '../../scripts/lib/fixtures.mjs';
export {
  destroyEmulatorClients,
  emulatorClients,
  emulatorEnvironment,
  TEST_DOMAIN,
  TEST_REGION,
  type EmulatorClients,
} from '../../scripts/lib/aws.mjs';
