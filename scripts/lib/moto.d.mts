export declare const MOTO_INSTALL_HINT: string;

export interface MotoAvailability {
  available: boolean;
  version?: string;
  reason?: string;
}

export interface MotoServer {
  /** e.g. http://127.0.0.1:41234 */
  endpoint: string;
  port: number;
  pid: number | undefined;
  /** POST /moto-api/reset: wipes every resource in every service. */
  reset(): Promise<void>;
  /** SIGTERM (then SIGKILL after 3 s) by PID; resolves when the process has exited. */
  stop(): Promise<void>;
  /** The server's recent stdout and stderr. */
  log(): string;
}

export declare function motoPython(): string;
export declare function motoAvailability(): MotoAvailability;
export declare function freePort(): Promise<number>;
export declare function startMoto(options?: { timeoutMs?: number; env?: Record<string, string> }): Promise<MotoServer>;
