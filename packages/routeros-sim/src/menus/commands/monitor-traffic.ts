import { flag, type MenuCommand } from '../../protocol/command-context.js';
import { Category, CommandError, Messages } from '../../protocol/errors.js';
import { parseDuration } from '../duration.js';
import { portNumber, trafficRates } from '../hardware.js';
import { proplistOf, project } from '../printing.js';
import { rejectUnknownParameters } from '../validation.js';

/**
 * `/interface/monitor-traffic =interface=ether1[,ether2] [=once=]`: one `!re` per interface, then
 * `!done` with once; without it, a round every interval (1 s by default) until `/cancel`.
 */
export const monitorTraffic: MenuCommand = (request, { config, facts, reply }) => {
  rejectUnknownParameters(request.attributes, ['interface', 'once', 'interval', 'duration', '.proplist']);
  const names = (request.attributes.get('interface') ?? '').split(',').filter((name) => name !== '');
  if (names.length === 0) throw new CommandError(Messages.missingValue('interface'));
  const candidates = [...config.store('/interface').rows(), ...config.store('/interface/bridge').rows()];
  const interfaces = names.map((name) => {
    const row = candidates.find((candidate) => candidate.values.name === name);
    if (!row) throw new CommandError(Messages.inputDoesNotMatch('interface'), Category.argumentValue);
    return { name, port: portNumber(row.values['default-name']), disabled: row.values.disabled === 'true' };
  });
  const proplist = proplistOf(request.attributes);

  const report = (): void => {
    for (const { name, port, disabled } of interfaces) {
      const { rxBits, txBits } = disabled ? { rxBits: 0, txBits: 0 } : trafficRates(facts, port);
      const rxPackets = Math.round(rxBits / 8 / 800);
      const txPackets = Math.round(txBits / 8 / 600);
      reply.re(
        project(
          {
            name,
            'rx-packets-per-second': String(rxPackets),
            'rx-bits-per-second': String(rxBits),
            'fp-rx-packets-per-second': String(rxPackets),
            'fp-rx-bits-per-second': String(rxBits),
            'rx-drops-per-second': '0',
            'rx-errors-per-second': '0',
            'tx-packets-per-second': String(txPackets),
            'tx-bits-per-second': String(txBits),
            'fp-tx-packets-per-second': String(txPackets),
            'fp-tx-bits-per-second': String(txBits),
            'tx-drops-per-second': '0',
            'tx-queue-drops-per-second': '0',
            'tx-errors-per-second': '0',
          },
          proplist,
        ),
      );
    }
  };

  report();
  if (flag(request.attributes, 'once')) {
    reply.done();
    return;
  }
  const interval = Math.max(50, parseDuration(request.attributes.get('interval') ?? '1s') ?? 1000);
  const timer = setInterval(report, interval);
  timer.unref();
  return { stop: () => clearInterval(timer) };
};
