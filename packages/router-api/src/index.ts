export {
  EmptySelectorError,
  RouterConnectionError,
  RouterError,
  RouterLoginError,
  RouterTimeoutError,
  RouterTrapError,
  RouterUnavailableError,
} from './errors.js';
export { RouterClient, type RouterClientOptions, type Value } from './router-client.js';
export { type RouterEndpoint, type Row } from './router-connection.js';
export { type RouterTls } from './tls-options.js';
