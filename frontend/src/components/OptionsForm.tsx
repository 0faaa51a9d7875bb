import Checkbox from "@cloudscape-design/components/checkbox";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import FormField from "@cloudscape-design/components/form-field";
import RadioGroup from "@cloudscape-design/components/radio-group";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Toggle from "@cloudscape-design/components/toggle";
import type { ConvertOptions, GeometryFormat, OutputFormat } from "../lib/types";

type BooleanOption = "drop_nulls" | "bigint_as_string" | "decimal_as_string" | "nan_as_string";

// Wording follows docs/json-contract.md so the UI and the CLI flags mean the same thing.
const FLAGS: { key: BooleanOption; label: string; description: string }[] = [
  { key: "drop_nulls", label: "Drop null fields", description: "Leave out fields whose value is null instead of writing null." },
  {
    key: "bigint_as_string",
    label: "Big integers as strings",
    description: "Write integers beyond ±2^53 as strings so JavaScript readers keep every digit.",
  },
  { key: "decimal_as_string", label: "Decimals as strings", description: "Write decimals as exact strings instead of numbers." },
  { key: "nan_as_string", label: "NaN and Infinity as strings", description: 'Write "NaN", "Infinity" and "-Infinity" instead of null.' },
];

export interface OptionsFormProps {
  value: ConvertOptions;
  onChange: (value: ConvertOptions) => void;
}

export function OptionsForm({ value, onChange }: OptionsFormProps) {
  const set = <K extends keyof ConvertOptions>(key: K, next: ConvertOptions[K]) => onChange({ ...value, [key]: next });
  return (
    <ColumnLayout columns={2} variant="text-grid">
      <SpaceBetween size="m">
        <FormField label="Output format" description="JSON Lines writes one record per line and suits big files.">
          <RadioGroup
            ariaLabel="Output format"
            value={value.format}
            onChange={({ detail }) => set("format", detail.value as OutputFormat)}
            items={[
              { value: "jsonl", label: "JSON Lines (.jsonl)" },
              { value: "json", label: "JSON array (.json)" },
            ]}
          />
        </FormField>
        <FormField label="Compression">
          <Toggle checked={value.compression === "gzip"} onChange={({ detail }) => set("compression", detail.checked ? "gzip" : "none")}>
            Compress the output with gzip
          </Toggle>
        </FormField>
        <FormField label="Geometry columns" description="GEOMETRY, GEOGRAPHY and GeoParquet columns.">
          <RadioGroup
            ariaLabel="Geometry columns"
            value={value.geometry}
            onChange={({ detail }) => set("geometry", detail.value as GeometryFormat)}
            items={[
              { value: "geojson", label: "GeoJSON geometry objects" },
              { value: "wkt", label: "Well-known text (WKT)" },
              { value: "wkb", label: "Well-known binary (WKB) in base64" },
            ]}
          />
        </FormField>
      </SpaceBetween>
      <FormField label="Value encoding">
        <SpaceBetween size="xs">
          {FLAGS.map((flag) => (
            <Checkbox key={flag.key} checked={value[flag.key]} description={flag.description} onChange={({ detail }) => set(flag.key, detail.checked)}>
              {flag.label}
            </Checkbox>
          ))}
        </SpaceBetween>
      </FormField>
    </ColumnLayout>
  );
}
