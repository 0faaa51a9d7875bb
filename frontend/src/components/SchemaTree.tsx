import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import SpaceBetween from "@cloudscape-design/components/space-between";
import TreeView from "@cloudscape-design/components/tree-view";
import { schemaTree, type SchemaNode } from "../lib/schemaTree";

function allIds(nodes: SchemaNode[]): string[] {
  return nodes.flatMap((node) => (node.children.length ? [node.id, ...allIds(node.children)] : []));
}

/** The output schema as a tree: nested fields (structs, lists, maps) expand. */
export function SchemaTree({ schema }: { schema: Record<string, unknown> }) {
  const tree = schemaTree(schema);
  const [expanded, setExpanded] = useState<string[]>([]);
  const expandable = allIds(tree);
  if (tree.length === 0) return <Box>The output records have no fields.</Box>;
  return (
    <SpaceBetween size="s">
      {expandable.length > 0 && (
        <SpaceBetween direction="horizontal" size="xs">
          <Button onClick={() => setExpanded(expandable)} disabled={expanded.length === expandable.length}>
            Expand all
          </Button>
          <Button onClick={() => setExpanded([])} disabled={expanded.length === 0}>
            Collapse all
          </Button>
        </SpaceBetween>
      )}
      <TreeView<SchemaNode>
        ariaLabel="Output schema"
        items={tree}
        getItemId={(node) => node.id}
        getItemChildren={(node) => (node.children.length ? node.children : undefined)}
        expandedItems={expanded}
        onItemToggle={({ detail }) =>
          setExpanded((current) => (detail.expanded ? [...current, detail.id] : current.filter((id) => id !== detail.id)))
        }
        connectorLines="vertical"
        renderItem={(node) => ({
          announcementLabel: node.name,
          content: <code>{node.name}</code>,
          secondaryContent: (
            <Box variant="small" color="text-body-secondary">
              {node.type}
              {node.optional ? " · left out when null" : ""}
              {node.description ? ` · ${node.description}` : ""}
            </Box>
          ),
        })}
        i18nStrings={{
          // Cloudscape appends the item's announcementLabel: "Expand address".
          expandButtonLabel: () => "Expand",
          collapseButtonLabel: () => "Collapse",
        }}
      />
      <ExpandableSection headerText="JSON Schema document">
        <pre style={{ whiteSpace: "pre-wrap", margin: 0, maxHeight: 360, overflow: "auto" }} tabIndex={0} aria-label="JSON Schema document">
          {JSON.stringify(schema, null, 2)}
        </pre>
      </ExpandableSection>
    </SpaceBetween>
  );
}
