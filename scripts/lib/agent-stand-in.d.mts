import type { EmulatorClients } from './aws.mjs';

export interface AgentStandIn {
  /** The stand-in's own errors (never thrown). */
  readonly errors: string[];
  readonly ticks: number;
  /** Instance ID -> container instance ARN of every registration the stand-in made. */
  readonly registeredInstances: Map<string, string | undefined>;
  /** "serviceArn targetGroupArn" -> targets the stand-in registered. */
  readonly registeredTargets: Map<string, { Id: string; Port?: number }[]>;
  /** Service ARN -> what the scheduler stand-in did, and the fewest tasks it saw running once the service was up. */
  readonly scheduled: Map<string, { reachedDesired: boolean; minimumRunning: number | undefined; tasksStarted: number; tasksStopped: number }>;
  /** Forget what was registered (after POST /moto-api/reset). */
  reset(): void;
  /** Resolves after the next complete poll. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export declare function clusterFromUserData(userData: string): string | undefined;
export declare function privateIpsFor(cidrs: string[], count: number): string[];
export declare function startAgentStandIn(
  clients: Pick<EmulatorClients, 'ec2' | 'ecs' | 'elbv2'>,
  options?: { intervalMs?: number; region?: string },
): AgentStandIn;
