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
  readonly scheduled: Map<string, { reachedDesired: boolean; minimumRunning: number | undefined; tasksStarted: number; tasksStopped: number; tasksFailedToStart: number }>;
  /** Forget what was registered (after POST /moto-api/reset). */
  reset(): void;
  /** Resolves after the next complete poll. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/** The tag no registry has: tasks of an image with it stop with CannotPullContainerError. */
export declare const UNPULLABLE_TAG: string;
/** The reference the agent resolves (docker.io/library/nginx:1.27 for nginx:1.27). */
export declare function imageReference(image: string): string;
/** The agent's stoppedReason when `image` cannot be pulled, else undefined. */
export declare function unpullableImage(image: string | undefined): string | undefined;
export declare function clusterFromUserData(userData: string): string | undefined;
export declare function privateIpsFor(cidrs: string[], count: number): string[];
export declare function startAgentStandIn(
  clients: Pick<EmulatorClients, 'ec2' | 'ecs' | 'elbv2'>,
  options?: {
    intervalMs?: number;
    region?: string;
    failedStartBackoffMs?: number;
    /** Register an instance with its cluster only this long after first seeing it (the agent booting); default 0. */
    registrationDelayMs?: number;
  },
): AgentStandIn;
