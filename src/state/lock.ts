import { hostname, userInfo } from 'node:os';
import { AuthecsError } from '../errors.js';

/** Who holds a state's lock: the body of the lock file or lock object. */
export interface LockOwner {
  pid: number;
  host: string;
  user?: string;
  command: string;
  startedAt: string;
}

function currentUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    // A container user without a passwd entry.
    return process.env.USER ?? process.env.USERNAME;
  }
}

export function lockOwnerFor(command: string): LockOwner {
  const user = currentUser();
  return { pid: process.pid, host: hostname(), ...(user ? { user } : {}), command, startedAt: new Date().toISOString() };
}

/** A lock body as far as it can be read; one cut short by a crash names nobody. */
export function parseLockOwner(text: string | undefined): Partial<LockOwner> {
  try {
    const parsed: unknown = JSON.parse(text ?? '');
    return parsed !== null && typeof parsed === 'object' ? (parsed as Partial<LockOwner>) : {};
  } catch {
    return {};
  }
}

export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the holder is a process of this host that is gone (a pid means nothing on another host). */
export function holderIsDeadHere(holder: Partial<LockOwner>): boolean {
  return holder.pid !== undefined && holder.host === hostname() && !processIsAlive(holder.pid);
}

export function describeHolder(holder: Partial<LockOwner>): string {
  return `\`authecs ${holder.command ?? '?'}\` (pid ${holder.pid ?? '?'} on ${holder.host ?? '?'}${holder.user ? ` as ${holder.user}` : ''}, since ${holder.startedAt ?? '?'})`;
}

export function lockedError(location: string, holder: Partial<LockOwner>, hint: string): AuthecsError {
  return new AuthecsError(`State file ${location} is locked by ${describeHolder(holder)}`, { code: 'STATE_LOCKED', exit: 'state', hint, details: { lockHolder: holder } });
}
