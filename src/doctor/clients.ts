// The clients only `doctor` needs, imported when it runs. Named imports rather than import('@aws-sdk/client-iam'):
// a dynamic import of a package keeps its whole namespace (every command's schema) in the bundle.
import { IAMClient } from '@aws-sdk/client-iam';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { STSClient } from '@aws-sdk/client-sts';

export interface DoctorClientOptions {
  region: string;
  profile?: string;
  endpoint?: string;
  retryMode: string;
  maxAttempts: number;
}

export function doctorClients(options: DoctorClientOptions): { iam: IAMClient; sts: STSClient; quotas: ServiceQuotasClient } {
  return { iam: new IAMClient(options), sts: new STSClient(options), quotas: new ServiceQuotasClient(options) };
}
