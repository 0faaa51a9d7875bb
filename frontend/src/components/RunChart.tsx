import Box from "@cloudscape-design/components/box";
import BarChart from "@cloudscape-design/components/bar-chart";
import ColumnLayout from "@cloudscape-design/components/column-layout";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { formatBytes, formatCount } from "../lib/format";
import { partBars } from "../lib/runParts";
import type { RunReport } from "../lib/types";

function perSecond(amount: number, durationMs: number): number | null {
  return durationMs > 0 ? (amount * 1000) / durationMs : null;
}

const CHART_STRINGS = {
  xTickFormatter: (label: string) => label,
  chartAriaRoleDescription: "bar chart",
  xAxisAriaRoleDescription: "x axis",
  yAxisAriaRoleDescription: "y axis",
  detailPopoverDismissAriaLabel: "Dismiss",
};

/** How the run went: throughput, and rows and bytes per row group of the input. */
export function RunChart({ report }: { report: RunReport }) {
  const bars = partBars(report.parts);
  const rowsPerSecond = perSecond(report.rows_in, report.duration_ms);
  const bytesPerSecond = perSecond(report.input_bytes, report.duration_ms);
  return (
    <SpaceBetween size="l">
      <KeyValuePairs
        columns={3}
        items={[
          { label: "Engine", value: report.engine },
          { label: "Throughput (rows)", value: rowsPerSecond === null ? "—" : `${formatCount(Math.round(rowsPerSecond))} rows/s` },
          { label: "Throughput (input)", value: bytesPerSecond === null ? "—" : `${formatBytes(Math.round(bytesPerSecond))}/s` },
        ]}
      />
      {bars.length === 0 ? (
        <Box color="text-status-inactive">This run recorded no row groups.</Box>
      ) : (
        <ColumnLayout columns={2}>
          <BarChart
            ariaLabel="Rows per row group"
            series={[{ title: "Rows", type: "bar", data: bars.map((bar) => ({ x: bar.label, y: bar.rows })), valueFormatter: (value) => formatCount(value) }]}
            xScaleType="categorical"
            xTitle="Row group"
            yTitle="Rows"
            yTickFormatter={(value) => formatCount(value)}
            height={160}
            hideFilter
            hideLegend
            i18nStrings={CHART_STRINGS}
            empty={<Box>No rows</Box>}
          />
          <BarChart
            ariaLabel="Uncompressed bytes per row group"
            // The report's part bytes are Parquet's total_byte_size: the row group's column
            // chunks before compression, which is what the engines plan their memory by.
            series={[{ title: "Uncompressed size", type: "bar", data: bars.map((bar) => ({ x: bar.label, y: bar.bytes })), valueFormatter: (value) => formatBytes(value) }]}
            xScaleType="categorical"
            xTitle="Row group"
            yTitle="Uncompressed size"
            yTickFormatter={(value) => formatBytes(value)}
            height={160}
            hideFilter
            hideLegend
            i18nStrings={CHART_STRINGS}
            empty={<Box>No data</Box>}
          />
        </ColumnLayout>
      )}
    </SpaceBetween>
  );
}
