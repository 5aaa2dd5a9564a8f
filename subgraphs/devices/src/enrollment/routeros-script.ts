/**
 * RouterOS script text. Every value the platform puts into a script goes through `quoted`, and
 * nowhere else: inside double quotes RouterOS reads `\` escapes and expands `$variables`, and its
 * console takes `?` as a request for help, so each of those is escaped, and every control
 * character is written as `\HH`. A quoted value therefore ends where the script says it does,
 * whatever the value holds (quotes, `$`, `;`, `\`, newlines).
 */
export function quoted(value: string): string {
  let text = '"';
  for (const character of value) {
    const code = character.codePointAt(0)!;
    if (character === '\\' || character === '"' || character === '$' || character === '?') {
      text += `\\${character}`;
    } else if (character === '\n') {
      text += '\\n';
    } else if (character === '\r') {
      text += '\\r';
    } else if (character === '\t') {
      text += '\\t';
    } else if (code < 0x20 || code === 0x7f) {
      text += `\\${code.toString(16).toUpperCase().padStart(2, '0')}`;
    } else {
      text += character;
    }
  }
  return `${text}"`;
}

export interface EnrollmentScriptInput {
  /** The device's name in the platform; the certificate's common name. */
  deviceName: string;
  username: string;
  password: string;
  /** The port api-ssl will listen on. */
  port: number;
  token: string;
  /** Where the router claims its enrollment: the gateway's `/enroll`. */
  enrollUrl: string;
  expiresAt: Date;
}

const GROUP = 'fleet-platform';
const CERTIFICATE = 'fleet-api-ssl';
const COMMENT = 'Managed by the fleet platform';

/**
 * The script an operator pastes into a router's terminal to enroll it: a user group and a
 * dedicated API user for the platform (with a password made for this router alone), a
 * self-signed certificate for api-ssl, api-ssl on that certificate, and a call to the platform
 * with the one-time token and the certificate's fingerprint, which the platform then pins.
 */
export function enrollmentScript(input: EnrollmentScriptInput): string {
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) throw new RangeError('port');
  const https = input.enrollUrl.startsWith('https:');
  const lines = [
    `# Enrolls this router as ${quoted(input.deviceName)}. Paste it once; it expires at ${input.expiresAt.toISOString()}.`,
    `:if ([:len [/user group find name=${quoted(GROUP)}]] = 0) do={ /user group add name=${quoted(GROUP)} policy="api,read,write,policy,test,sensitive,reboot" comment=${quoted(COMMENT)} }`,
    `/user add name=${quoted(input.username)} group=${quoted(GROUP)} password=${quoted(input.password)} comment=${quoted(COMMENT)}`,
    `:if ([:len [/certificate find name=${quoted(CERTIFICATE)}]] = 0) do={ /certificate add name=${quoted(CERTIFICATE)} common-name=${quoted(input.deviceName)} days-valid=3650 key-usage=digital-signature,key-encipherment,tls-server; /certificate sign ${quoted(CERTIFICATE)} }`,
    ':delay 5s',
    `/ip service set api-ssl certificate=${quoted(CERTIFICATE)} port=${input.port} disabled=no`,
    `:local fingerprint [/certificate get [find name=${quoted(CERTIFICATE)}] fingerprint]`,
    `/tool fetch url=${quoted(input.enrollUrl)} http-method=post check-certificate=${https ? 'yes' : 'no'} ` +
      `http-header-field="Content-Type: application/json" output=user ` +
      `http-data=(${quoted(`{"token":"${input.token}","port":${input.port},"fingerprint":"`)} . $fingerprint . ${quoted('"}')})`,
  ];
  return `${lines.join('\n')}\n`;
}
