// The sign-in screens are Amplify UI's Authenticator over the real Amplify Auth (configured,
// no network needed to show them); the flows against a Cognito endpoint are in e2e/auth.spec.ts.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Hub } from "aws-amplify/utils";
import { act } from "react";
import { describe, expect, it, vi } from "vitest";
import { App } from "../../App";
import { createCognitoAuth } from "../../lib/amplify";
import { FakeApi } from "../../test/fakeApi";
import { renderWithApi } from "../../test/render";
import { server } from "../../test/server";
import { AuthGate } from "../AuthGate";

const config = { region: "eu-west-1", userPoolId: "eu-west-1_test", userPoolClientId: "client", selfSignUp: true };

describe("sign-in", () => {
  it("shows the Authenticator: sign in, create an account, forgot password", async () => {
    const auth = createCognitoAuth(config);
    const user = userEvent.setup();
    renderWithApi(
      <AuthGate auth={auth} productName="Parquet to JSON" signUp>
        {() => <p>signed in</p>}
      </AuthGate>,
    );
    expect(await screen.findByRole("heading", { name: "Parquet to JSON", level: 1 })).toBeInTheDocument();
    expect(await screen.findByRole("tab", { name: "Sign In" })).toBeInTheDocument();
    expect(screen.getByLabelText("Email")).toBeInTheDocument();
    expect(screen.getByLabelText("Password")).toBeInTheDocument();
    await user.click(screen.getByRole("tab", { name: "Create Account" }));
    expect(await screen.findByLabelText("Confirm Password")).toBeInTheDocument();
    await user.click(screen.getByRole("tab", { name: "Sign In" }));
    await user.click(await screen.findByRole("button", { name: "Forgot your password?" }));
    expect(await screen.findByRole("button", { name: "Send code" })).toBeInTheDocument();
    expect(screen.queryByText("signed in")).not.toBeInTheDocument();
  });

  it("offers no Create Account where the pool has self sign-up off (the default)", async () => {
    const auth = createCognitoAuth({ ...config, selfSignUp: false });
    renderWithApi(
      <AuthGate auth={auth} productName="Parquet to JSON">
        {() => <p>signed in</p>}
      </AuthGate>,
    );
    expect(await screen.findByLabelText("Email")).toBeInTheDocument();
    expect(screen.queryByRole("tab", { name: "Create Account" })).not.toBeInTheDocument();
  });

  it("says the session expired when Amplify cannot renew it", async () => {
    const auth = createCognitoAuth(config);
    renderWithApi(
      <AuthGate auth={auth} productName="Parquet to JSON">
        {() => <p>signed in</p>}
      </AuthGate>,
    );
    await screen.findByLabelText("Email");
    expect(screen.queryByText("Your session has expired")).not.toBeInTheDocument();
    // A network failure is not an expiry; a refused refresh token is.
    act(() => Hub.dispatch("auth", { event: "tokenRefresh_failure", data: { error: { name: "NetworkError" } } } as never));
    expect(screen.queryByText("Your session has expired")).not.toBeInTheDocument();
    act(() => Hub.dispatch("auth", { event: "tokenRefresh_failure", data: { error: { name: "NotAuthorizedException" } } } as never));
    expect(await screen.findByText("Your session has expired")).toBeInTheDocument();
  });
});

describe("application shell", () => {
  it("shows the product name and the signed-in user's menu with sign-out", async () => {
    server.use(...new FakeApi().handlers());
    const onSignOut = vi.fn();
    const user = userEvent.setup();
    renderWithApi(<App user="ana@example.com" onSignOut={onSignOut} />);
    const banner = document.querySelector("#top-navigation") as HTMLElement;
    expect(within(banner).getAllByText("Parquet to JSON").length).toBeGreaterThan(0);
    // jsdom has no layout, so the top navigation shows its narrow-screen form: the "More" menu.
    await user.click(within(banner).getByRole("button", { name: "More" }));
    // The overflow menu lists the user's menu last (after the heading and the hidden wide-screen button).
    const entries = await screen.findAllByText("ana@example.com");
    await user.click(entries[entries.length - 1]!);
    await user.click(await screen.findByText("Sign out"));
    await waitFor(() => expect(onSignOut).toHaveBeenCalledTimes(1));
  });
});
