import { AuthecsError } from '../../errors.js';

/**
 * Valid task CPU/memory pairs on Fargate (ECS Developer Guide, "Troubleshoot Amazon ECS task
 * definition invalid CPU or memory errors", and the task definition `memory` parameter). Any
 * other pair fails RegisterTaskDefinition with ClientException "Invalid 'cpu' setting for task".
 * 8 and 16 vCPU need Linux platform 1.4.0 or later (the default LATEST).
 */
const FARGATE_SIZES: readonly { cpu: number; memory: (memory: number) => boolean; describe: string }[] = [
  { cpu: 256, memory: (m) => [512, 1024, 2048].includes(m), describe: '512, 1024 or 2048' },
  { cpu: 512, memory: (m) => [1024, 2048, 3072, 4096].includes(m), describe: '1024 to 4096 in steps of 1024' },
  { cpu: 1024, memory: (m) => m >= 2048 && m <= 8192 && m % 1024 === 0, describe: '2048 to 8192 in steps of 1024' },
  { cpu: 2048, memory: (m) => m >= 4096 && m <= 16384 && m % 1024 === 0, describe: '4096 to 16384 in steps of 1024' },
  { cpu: 4096, memory: (m) => m >= 8192 && m <= 30720 && m % 1024 === 0, describe: '8192 to 30720 in steps of 1024' },
  { cpu: 8192, memory: (m) => m >= 16384 && m <= 61440 && m % 4096 === 0, describe: '16384 to 61440 in steps of 4096' },
  { cpu: 16384, memory: (m) => m >= 32768 && m <= 122880 && m % 8192 === 0, describe: '32768 to 122880 in steps of 8192' },
];

export function isValidFargateSize(cpu: number, memory: number): boolean {
  return FARGATE_SIZES.some((size) => size.cpu === cpu && size.memory(memory));
}

/** Throws a usage error naming the valid memory values for the CPU (or the valid CPU values). */
export function checkFargateSize(cpu: number, memory: number): void {
  if (isValidFargateSize(cpu, memory)) return;
  const row = FARGATE_SIZES.find((size) => size.cpu === cpu);
  const hint = row
    ? `With --task-cpu ${cpu}, --task-memory must be ${row.describe} (MiB).`
    : `--task-cpu must be one of ${FARGATE_SIZES.map((size) => size.cpu).join(', ')}; each allows its own --task-memory range (ECS guide, Fargate task CPU and memory).`;
  throw new AuthecsError(`Fargate does not offer a task of ${cpu} CPU units with ${memory} MiB of memory`, {
    code: 'FARGATE_SIZE_INVALID',
    exit: 'usage',
    hint,
  });
}

/**
 * Zone IDs without Fargate (ECS Developer Guide, "Supported Regions for Amazon ECS on AWS Fargate":
 * us-west-1 has only usw1-az1 and usw1-az3, ap-northeast-1 only apne1-az1, -az2 and -az4; use1-az3
 * is the constrained us-east-1 zone named in issue 8). Zone IDs are the same in every account.
 */
export const FARGATE_UNSUPPORTED_ZONE_IDS: ReadonlySet<string> = new Set(['use1-az3', 'usw1-az2', 'apne1-az3']);
