import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { App } from "../../App";
import { DEFAULT_OPTIONS } from "../../lib/types";
import { FakeApi } from "../../test/fakeApi";
import { renderWithApi } from "../../test/render";
import { server } from "../../test/server";

function setup() {
  const api = new FakeApi();
  server.use(...api.handlers());
  renderWithApi(<App />);
  return api;
}

const file = () => new File([new Uint8Array(16)], "opts.parquet");
const fileInput = () => document.querySelector<HTMLInputElement>('input[type="file"]')!;

describe("conversion options", () => {
  it("starts from the documented defaults and sends them with the job", async () => {
    const api = setup();
    expect(screen.getByRole("radio", { name: /JSON Lines/ })).toBeChecked();
    expect(screen.getByRole("radio", { name: /JSON array/ })).not.toBeChecked();
    expect(screen.getByRole("checkbox", { name: /Compress the output with gzip/ })).not.toBeChecked();
    expect(screen.getByRole("radio", { name: /GeoJSON geometry objects/ })).toBeChecked();
    for (const name of [/Drop null fields/, /Big integers as strings/, /Decimals as strings/, /NaN and Infinity as strings/]) {
      expect(screen.getByRole("checkbox", { name })).not.toBeChecked();
    }
    await userEvent.upload(fileInput(), file());
    await waitFor(() => expect(api.createRequests).toHaveLength(1));
    expect(api.createRequests[0]!.options).toEqual(DEFAULT_OPTIONS);
  });

  it("sends the options chosen with the keyboard and mouse", async () => {
    const api = setup();
    const user = userEvent.setup();
    await user.click(screen.getByRole("radio", { name: /JSON array/ }));
    await user.click(screen.getByRole("checkbox", { name: /Compress the output with gzip/ }));
    // Keyboard: tab to a checkbox and toggle it with space.
    screen.getByRole("checkbox", { name: /Drop null fields/ }).focus();
    await user.keyboard(" ");
    await user.click(screen.getByRole("checkbox", { name: /Big integers as strings/ }));
    await user.click(screen.getByRole("checkbox", { name: /NaN and Infinity as strings/ }));
    await user.click(screen.getByRole("radio", { name: /Well-known text/ }));

    expect(screen.getByRole("radio", { name: /JSON array/ })).toBeChecked();
    expect(screen.getByRole("checkbox", { name: /Drop null fields/ })).toBeChecked();

    await user.upload(fileInput(), file());
    await waitFor(() => expect(api.createRequests).toHaveLength(1));
    expect(api.createRequests[0]!.options).toEqual({
      format: "json",
      compression: "gzip",
      drop_nulls: true,
      bigint_as_string: true,
      decimal_as_string: false,
      nan_as_string: true,
      geometry: "wkt",
    });
  });
});
