// The output's JSON Schema (as etl_lib/report.py writes it) as a tree of fields: objects'
// properties, array items and map values become children, so nested columns can be expanded.

export interface SchemaNode {
  /** Unique path, e.g. "address.lines[]". */
  id: string;
  name: string;
  /** "string | null", "integer", "object", "array"… */
  type: string;
  /** Absent from a record (drop_nulls) rather than present as null. */
  optional: boolean;
  description: string | null;
  children: SchemaNode[];
}

type Schema = Record<string, unknown>;

const asSchema = (value: unknown): Schema | null => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Schema) : null);

function alternatives(schema: Schema): Schema[] {
  for (const key of ["anyOf", "oneOf"]) {
    const list = schema[key];
    if (Array.isArray(list)) return list.map(asSchema).filter((item): item is Schema => item !== null);
  }
  return [schema];
}

/** "string (date-time) | null": every alternative the value may take. */
export function describeType(value: unknown): string {
  const schema = asSchema(value);
  if (!schema) return "any";
  const parts: string[] = [];
  for (const option of alternatives(schema)) {
    const format = typeof option.format === "string" ? ` (${option.format})` : option.contentEncoding === "base64" ? " (base64)" : "";
    if (Array.isArray(option.type)) parts.push(...option.type.map((type, index) => (index === 0 ? `${type}${format}` : String(type))));
    else if (typeof option.type === "string") parts.push(option.type + format);
    else if (Array.isArray(option.enum)) parts.push(option.enum.map((item) => JSON.stringify(item)).join(" | "));
    else if (option !== schema) parts.push(describeType(option));
  }
  return parts.length ? [...new Set(parts)].join(" | ") : "any";
}

function childrenOf(schema: Schema, path: string): SchemaNode[] {
  const nested: SchemaNode[] = [];
  for (const option of alternatives(schema)) {
    const properties = asSchema(option.properties);
    if (properties) {
      const required = new Set(Array.isArray(option.required) ? option.required : Object.keys(properties));
      for (const [name, child] of Object.entries(properties)) nested.push(node(name, child, `${path}.${name}`, !required.has(name)));
    }
    const items = asSchema(option.items);
    if (items) nested.push(node("[ ] item", items, `${path}[]`, false));
    const values = asSchema(option.additionalProperties);
    if (values) nested.push(node("{ } value", values, `${path}{}`, false));
  }
  return nested;
}

function node(name: string, value: unknown, id: string, optional: boolean): SchemaNode {
  const schema = asSchema(value) ?? {};
  return {
    id,
    name,
    type: describeType(schema),
    optional,
    description: typeof schema.description === "string" ? schema.description : null,
    children: childrenOf(schema, id),
  };
}

/** The fields of one output record (a JSON-array output's schema describes its elements the same way). */
export function schemaTree(schema: unknown): SchemaNode[] {
  const root = asSchema(schema);
  if (!root) return [];
  const record = root.type === "array" && asSchema(root.items) ? (root.items as Schema) : root;
  return childrenOf(record, "$");
}
