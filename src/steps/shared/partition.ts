/**
 * The partition a region belongs to, from its name: ARNs of global services (IAM) and of AWS
 * managed policies carry it (arn:aws-us-gov:iam::aws:policy/...). Same rule as
 * claims/verify.ts's partitionOfRegion, which steps do not import (it loads aws-jwt-verify).
 */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('cn-')) return 'aws-cn';
  const iso = /^[a-z]{2}-(iso[a-z]?)-/.exec(region);
  if (iso) return `aws-${iso[1]}`;
  return 'aws';
}
