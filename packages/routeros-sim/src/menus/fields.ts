import type { FieldDefinition, MenuDefinition, RouterFacts } from './definition.js';

/** The fields a menu has on this router (some exist only on 6.x or only on 7.x). */
export function fieldsOf(definition: MenuDefinition, facts: RouterFacts): readonly FieldDefinition[] {
  return definition.fields.filter(
    (field) => field.major === undefined || field.major === facts.profile.major,
  );
}

/** The values of a new item: those given, then each field's default for what they leave out. */
export function withDefaults(
  definition: MenuDefinition,
  facts: RouterFacts,
  values: Readonly<Record<string, string>>,
): Record<string, string> {
  const complete: Record<string, string> = {};
  for (const field of fieldsOf(definition, facts)) {
    const value = values[field.name] ?? field.default;
    if (value !== undefined) complete[field.name] = value;
  }
  return complete;
}
