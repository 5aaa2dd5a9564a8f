/** A benchmark's `--name value` options, by name without the dashes. */
export function commandLineOptions(argv: readonly string[] = process.argv.slice(2)): Map<string, string> {
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) options.set(argv[i]!.replace(/^--/, ''), argv[i + 1]!);
  return options;
}
