import { randomInt } from 'node:crypto';
import type { PasswordPolicyType } from '@aws-sdk/client-cognito-identity-provider';

// Cognito's own default policy: 8 characters, each of the four classes required
// (developer guide, "Adding user pool password requirements").
export const COGNITO_DEFAULT_MINIMUM_LENGTH = 8;
/** Long enough to be strong whatever the policy asks, well under Cognito's 256-character limit. */
export const TEMPORARY_PASSWORD_LENGTH = 20;

// Letters and digits that cannot be misread (no I/l/1, O/0) when a person types the password in.
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const DIGITS = '23456789';
// A subset of Cognito's special characters: no quotes, backslash, backtick or space, so that
// the password survives being pasted into a shell or a form.
const SYMBOLS = '!#%*+-.=?@^_~';
// Cognito's full special-character set (developer guide, "Adding user pool password requirements").
const COGNITO_SYMBOLS = '^$*.[]{}()?"!@#%&/\\,><\':;|_~`=+- ';

/** The length the policy asks for, or more. */
function lengthFor(policy: PasswordPolicyType | undefined): number {
  return Math.max(TEMPORARY_PASSWORD_LENGTH, policy?.MinimumLength ?? COGNITO_DEFAULT_MINIMUM_LENGTH);
}

const pick = (alphabet: string, random: (max: number) => number): string => alphabet[random(alphabet.length)]!;

/**
 * A temporary password that meets any Cognito password policy of its length: one character of
 * each class whether the policy requires it or not, the rest from all four, then shuffled.
 * Made in memory from the CSPRNG; the caller shows it once and keeps it nowhere.
 */
export function generateTemporaryPassword(policy: PasswordPolicyType | undefined, random: (max: number) => number = randomInt): string {
  const all = UPPER + LOWER + DIGITS + SYMBOLS;
  const characters = [pick(UPPER, random), pick(LOWER, random), pick(DIGITS, random), pick(SYMBOLS, random)];
  while (characters.length < lengthFor(policy)) characters.push(pick(all, random));
  for (let index = characters.length - 1; index > 0; index -= 1) {
    const other = random(index + 1);
    [characters[index], characters[other]] = [characters[other]!, characters[index]!];
  }
  return characters.join('');
}

/** Whether a password meets a policy as Cognito checks it (the classes it requires, its minimum length). */
export function meetsPasswordPolicy(password: string, policy: PasswordPolicyType | undefined): boolean {
  const required = {
    RequireUppercase: /[A-Z]/,
    RequireLowercase: /[a-z]/,
    RequireNumbers: /[0-9]/,
  } as const;
  // With no policy recorded, Cognito's default requires every class.
  const requires = (key: keyof PasswordPolicyType) => (policy ? policy[key] === true : true);
  if (password.length < (policy?.MinimumLength ?? COGNITO_DEFAULT_MINIMUM_LENGTH)) return false;
  for (const [key, pattern] of Object.entries(required) as [keyof typeof required, RegExp][]) {
    if (requires(key) && !pattern.test(password)) return false;
  }
  if (requires('RequireSymbols') && ![...password].some((character) => COGNITO_SYMBOLS.includes(character))) return false;
  return [...password].every((character) => /[A-Za-z0-9]/.test(character) || COGNITO_SYMBOLS.includes(character));
}
