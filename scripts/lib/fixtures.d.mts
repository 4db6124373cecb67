import type { EmulatorClients } from './aws.mjs';

export declare const PROJECT_ROOT: string;
export declare const NETWORK_TEMPLATE: string;
export declare const NETWORK_STACK: string;
export declare const INSTANCE_PROFILE: string;

export interface Fixtures {
  domain: string;
  zoneName: string;
  hostedZoneId: string;
  networkStackName: string;
  networkStackId: string | undefined;
  availabilityZones: [string, string];
  vpcId: string;
  publicSubnets: [string, string];
  privateSubnets: [string, string];
  securityGroupId: string;
  instanceProfileName: string;
  instanceProfileArn: string | undefined;
}

export declare function apexOf(domain: string): string;
export declare function seedFixtures(clients: EmulatorClients, options?: { domain?: string; templatePath?: string }): Promise<Fixtures>;
