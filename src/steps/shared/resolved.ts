import { AuthecsError } from '../../errors.js';
import { isUnknown, type Maybe } from '../resource.js';

/**
 * A desired field that must be known by the time create/update/replace runs: the engine applies a
 * resource only after its dependencies, so UNKNOWN here is a bug, not a user error.
 */
export function resolved<Value>(value: Maybe<Value> | undefined, field: string): Value {
  if (value === undefined || isUnknown(value)) {
    throw new AuthecsError(`The desired ${field} is not known yet; a dependency has not been applied`, { code: 'DESIRED_UNKNOWN', exit: 'internal' });
  }
  return value;
}
