import Box from "@cloudscape-design/components/box";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";

interface Field {
  name: string;
  type: string;
}

function describeType(schema: unknown): string {
  if (typeof schema !== "object" || schema === null) return "any";
  const node = schema as Record<string, unknown>;
  const type = Array.isArray(node.type) ? node.type.join(" | ") : typeof node.type === "string" ? node.type : null;
  const format = typeof node.format === "string" ? ` (${node.format})` : "";
  if (type) return type + format;
  for (const key of ["anyOf", "oneOf"]) {
    if (Array.isArray(node[key])) return (node[key] as unknown[]).map(describeType).join(" | ");
  }
  return "any";
}

/** Top-level fields of a JSON Schema describing one output record. */
export function schemaFields(schema: unknown): Field[] {
  if (typeof schema !== "object" || schema === null) return [];
  const root = schema as Record<string, unknown>;
  // A JSON-array output may be described as {type: array, items: {record schema}}.
  const record = (root.type === "array" && typeof root.items === "object" ? root.items : root) as Record<string, unknown>;
  const properties = record.properties;
  if (typeof properties !== "object" || properties === null) return [];
  return Object.entries(properties as Record<string, unknown>).map(([name, value]) => ({ name, type: describeType(value) }));
}

export function SchemaView({ schema }: { schema: unknown }) {
  if (schema === undefined || schema === null) {
    return <Box color="text-status-inactive">The schema is available once the job has succeeded.</Box>;
  }
  const fields = schemaFields(schema);
  return (
    <SpaceBetween size="s">
      {fields.length > 0 && (
        <Table
          variant="embedded"
          ariaLabels={{ tableLabel: "Output schema" }}
          items={fields}
          trackBy="name"
          wrapLines
          columnDefinitions={[
            { id: "name", header: "Field", cell: (field) => <code>{field.name}</code>, isRowHeader: true },
            { id: "type", header: "JSON type", cell: (field) => field.type },
          ]}
        />
      )}
      <ExpandableSection headerText="JSON Schema">
        <pre style={{ whiteSpace: "pre-wrap", margin: 0, maxHeight: 360, overflow: "auto" }} tabIndex={0} aria-label="JSON Schema document">
          {JSON.stringify(schema, null, 2)}
        </pre>
      </ExpandableSection>
    </SpaceBetween>
  );
}
