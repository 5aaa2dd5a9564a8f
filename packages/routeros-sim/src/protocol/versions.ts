/**
 * What differs between RouterOS releases, as far as the API shows it. One profile per release line
 * the simulator offers; a router is given one by its spec.
 */
export interface VersionProfile {
  /** The name a spec uses: '6.42', '6.49', '7.16', '7.18'. */
  readonly key: string;
  readonly major: 6 | 7;
  /** The full release the router reports, e.g. '7.18.2'. */
  readonly release: string;
  readonly channel: 'long-term' | 'stable';
  /** 6.43 and later: `/login =name= =password=`. Before, the password is ignored and a challenge comes back. */
  readonly plainLogin: boolean;
  /** The pre-6.43 challenge login (`/login`, then `=response=`). Kept through 6.49; not offered by 7.x here. */
  readonly challengeLogin: boolean;
  /** 7.18 and later answer a print with nothing to show with `!empty`, then `!done`. */
  readonly emptyReply: boolean;
  /** The value of `.dead` in a listen reply for a removed item (6.x captures show `true`). */
  readonly deadValue: 'true' | 'yes';
  /** The `!trap` message of a failed login. */
  readonly loginFailureMessage: string;
}

const PROFILES: readonly VersionProfile[] = [
  {
    key: '6.42',
    major: 6,
    release: '6.42.12',
    channel: 'long-term',
    plainLogin: false,
    challengeLogin: true,
    emptyReply: false,
    deadValue: 'true',
    loginFailureMessage: 'cannot log in',
  },
  {
    key: '6.49',
    major: 6,
    release: '6.49.18',
    channel: 'long-term',
    plainLogin: true,
    challengeLogin: true,
    emptyReply: false,
    deadValue: 'true',
    loginFailureMessage: 'invalid user name or password (6)',
  },
  {
    key: '7.16',
    major: 7,
    release: '7.16.2',
    channel: 'stable',
    plainLogin: true,
    challengeLogin: false,
    emptyReply: false,
    deadValue: 'yes',
    loginFailureMessage: 'invalid user name or password (6)',
  },
  {
    key: '7.18',
    major: 7,
    release: '7.18.2',
    channel: 'stable',
    plainLogin: true,
    challengeLogin: false,
    emptyReply: true,
    deadValue: 'yes',
    loginFailureMessage: 'invalid user name or password (6)',
  },
];

export const DEFAULT_VERSION = '7.18';
export const VERSIONS: readonly string[] = PROFILES.map((profile) => profile.key);

export function versionProfile(version: string = DEFAULT_VERSION): VersionProfile {
  const profile = PROFILES.find((candidate) => candidate.key === version);
  if (!profile) throw new Error(`unknown RouterOS version '${version}' (one of ${VERSIONS.join(', ')})`);
  return profile;
}
